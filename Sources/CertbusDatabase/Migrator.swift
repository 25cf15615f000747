import Foundation
import Postgres

/// A migration file: `NNN_name.sql`.
public struct Migration: Sendable, Equatable {
    /// The file name, e.g. `010_jobs.sql`; also its identity in `certbus.schema_migrations`.
    public var name: String
    /// The SQL text.
    public var sql: String
}

/// A migration that was applied, or is waiting to be.
public struct MigrationState: Sendable, Equatable {
    public var name: String
    /// SHA-256 of the file as applied (hex), nil when pending.
    public var checksum: String?
    /// When it was applied, nil when pending.
    public var appliedAt: Date?
    /// How long applying it took, in milliseconds.
    public var durationMilliseconds: Int?
}

/// A migration problem: a malformed file name, an edited or missing applied
/// file, or SQL that failed (with the server's error).
public struct MigrationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    /// The migration involved, if any.
    public var migration: String?
    /// The underlying PostgreSQL error, if any.
    public var underlying: PostgresError?

    public init(message: String, migration: String? = nil, underlying: PostgresError? = nil) {
        self.message = message
        self.migration = migration
        self.underlying = underlying
    }

    public var description: String {
        var text = message
        if let underlying { text += "\n" + underlying.description }
        return text
    }
}

/// Applies the numbered, forward-only migrations of `sql/`.
///
/// `migrate()` takes a cluster-wide advisory lock so that processes migrating
/// at once apply each file exactly once; applies every pending file in name
/// order, each in its own transaction; records name, checksum, time and
/// duration in `certbus.schema_migrations`; and refuses to do anything when an
/// applied file was edited or removed since.
public struct Migrator: Sendable {
    /// The advisory lock key held while migrating ('certbus' + 'M').
    public static let advisoryLockKey: Int64 = 0x6365_7274_6275_734D

    public let directory: URL

    public init(directory: URL) {
        self.directory = directory
    }

    /// A migrator for the folder `SQLDirectory.locate()` finds.
    public static func located() throws -> Migrator {
        try Migrator(directory: SQLDirectory.locate())
    }

    /// The migration files, in the order they apply.
    public func migrations() throws -> [Migration] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw MigrationError(message: "cannot read migrations folder \(directory.path): \(error.localizedDescription)")
        }
        var result: [Migration] = []
        for name in names.sorted() where name.hasSuffix(".sql") {
            guard Self.isValidName(name) else {
                throw MigrationError(
                    message: "migration file name '\(name)' must look like 123_lowercase_words.sql", migration: name)
            }
            let url = directory.appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw MigrationError(message: "cannot read \(url.path)", migration: name)
            }
            result.append(Migration(name: name, sql: String(decoding: data, as: UTF8.self)))
        }
        var seen = Set<String>()
        for m in result {
            let number = String(m.name.prefix(3))
            if !seen.insert(number).inserted {
                throw MigrationError(message: "two migration files share the number \(number)", migration: m.name)
            }
        }
        return result
    }

    static func isValidName(_ name: String) -> Bool {
        let stem = name.dropLast(4)
        guard stem.count > 4 else { return false }
        let digits = stem.prefix(3)
        guard digits.allSatisfy({ $0.isASCII && $0.isNumber }), stem.dropFirst(3).first == "_" else { return false }
        return stem.dropFirst(4).allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "_" }
    }

    /// Applies pending migrations; returns the names applied by this call (empty when up to date).
    @discardableResult
    public func migrate(_ connection: Connection, progress: ((String) -> Void)? = nil) throws -> [String] {
        let files = try migrations()
        try connection.execute("SELECT pg_advisory_lock($1)", [Self.advisoryLockKey])
        defer { _ = try? connection.execute("SELECT pg_advisory_unlock($1)", [Self.advisoryLockKey]) }
        try ensureHistoryTable(connection)
        let applied = try appliedMigrations(connection)
        try verify(files: files, applied: applied, connection: connection)
        var done: [String] = []
        let pending = files.filter { applied[$0.name] == nil }.count
        for file in files where applied[file.name] == nil {
            progress?("applying \(file.name) (\(done.count + 1) of \(pending))")
            let start = Date()
            do {
                try connection.withTransaction(maxAttempts: 1) { tx in
                    try tx.executeScript(file.sql)
                    try tx.execute(
                        """
                        INSERT INTO certbus.schema_migrations (name, checksum, duration_ms)
                        VALUES ($1, encode(sha256(convert_to($2, 'UTF8')), 'hex'), $3)
                        """,
                        [file.name, file.sql, Int(Date().timeIntervalSince(start) * 1000)])
                }
            } catch let error as PostgresError {
                throw MigrationError(message: "migration \(file.name) failed and was rolled back", migration: file.name, underlying: error)
            }
            done.append(file.name)
        }
        try connection.execute("SELECT certbus.apply_grants()")
        return done
    }

    /// Applied and pending migrations, without changing anything. Fails like `migrate` on an edited file.
    public func status(_ connection: Connection) throws -> [MigrationState] {
        let files = try migrations()
        let exists = try connection.query("SELECT to_regclass('certbus.schema_migrations') IS NOT NULL AS present")
        let applied: [String: MigrationState] = try exists[0].decode("present", as: Bool.self) ? appliedMigrations(connection) : [:]
        try verify(files: files, applied: applied, connection: connection)
        return files.map { applied[$0.name] ?? MigrationState(name: $0.name) }
    }

    private func ensureHistoryTable(_ connection: Connection) throws {
        try connection.executeScript(
            """
            CREATE SCHEMA IF NOT EXISTS certbus;
            CREATE TABLE IF NOT EXISTS certbus.schema_migrations (
              name         text PRIMARY KEY,
              checksum     text NOT NULL,
              applied_at   timestamptz NOT NULL DEFAULT now(),
              duration_ms  integer NOT NULL DEFAULT 0
            );
            COMMENT ON TABLE certbus.schema_migrations IS
              'Migrations applied by `certbus migrate`: file name, SHA-256 of the file as applied, when, how long. Do not edit.';
            COMMENT ON COLUMN certbus.schema_migrations.name IS 'Migration file name in sql/, e.g. 010_jobs.sql.';
            COMMENT ON COLUMN certbus.schema_migrations.checksum IS 'SHA-256 (hex) of the file when applied; certbus refuses to run if the file changed since.';
            COMMENT ON COLUMN certbus.schema_migrations.applied_at IS 'When it was applied.';
            COMMENT ON COLUMN certbus.schema_migrations.duration_ms IS 'How long applying it took.';
            """)
    }

    private func appliedMigrations(_ connection: Connection) throws -> [String: MigrationState] {
        var out: [String: MigrationState] = [:]
        for row in try connection.query("SELECT name, checksum, applied_at, duration_ms FROM certbus.schema_migrations") {
            let name = try row.decode("name", as: String.self)
            out[name] = MigrationState(
                name: name, checksum: try row.decode("checksum"), appliedAt: try row.decode("applied_at"),
                durationMilliseconds: try row.decode("duration_ms"))
        }
        return out
    }

    private func verify(files: [Migration], applied: [String: MigrationState], connection: Connection) throws {
        guard !applied.isEmpty else { return }
        let byName = Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0) })
        for name in applied.keys.sorted() where byName[name] == nil {
            throw MigrationError(
                message:
                    "migration \(name) was applied to this database but is missing from \(directory.path); is this an older certbus than the database?",
                migration: name)
        }
        let names = applied.keys.sorted()
        let texts = names.map { byName[$0]!.sql }
        let rows = try connection.query(
            """
            SELECT n AS name, encode(sha256(convert_to(t, 'UTF8')), 'hex') AS checksum
            FROM unnest($1::text[], $2::text[]) AS f(n, t)
            """, [names, texts])
        for row in rows {
            let name = try row.decode("name", as: String.self)
            let checksum = try row.decode("checksum", as: String.self)
            if applied[name]?.checksum != checksum {
                throw MigrationError(
                    message:
                        "migration \(name) was edited after it was applied (checksum \(checksum.prefix(12))… differs from \(applied[name]?.checksum?.prefix(12) ?? "?")…). Migrations are forward-only: restore the file and add a new migration instead.",
                    migration: name)
            }
        }
    }
}
