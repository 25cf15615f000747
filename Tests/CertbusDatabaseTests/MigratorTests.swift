import CertbusDatabase
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Migrations against a real, empty test database each.
@Suite struct MigratorTests {
    /// Copies sql/ into a temporary folder the test may edit.
    func scratchCopy() throws -> URL {
        let source = try SQLDirectory.locate()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(TestCluster.uniqueName(prefix: "sql"))
        try FileManager.default.copyItem(at: source, to: dir)
        return dir
    }

    @Test func freshApplyThenNoOp() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        let migrator = try Migrator.located()
        let files = try migrator.migrations().map(\.name)
        #expect(files.first == "001_foundation.sql")
        let applied = try migrator.migrate(c)
        #expect(applied == files)
        #expect(try migrator.migrate(c).isEmpty)
        let states = try migrator.status(c)
        #expect(states.allSatisfy { $0.appliedAt != nil && $0.checksum?.count == 64 })
    }

    @Test func everyObjectIsCommented() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let uncommented = try c.query(
            """
            SELECT 'table ' || c.relname AS object FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'certbus' AND c.relkind IN ('r', 'v', 'm', 'p') AND obj_description(c.oid, 'pg_class') IS NULL
               AND NOT c.relispartition
            UNION ALL
            SELECT 'column ' || c.relname || '.' || a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
              JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'certbus' AND c.relkind IN ('r', 'v', 'm', 'p') AND a.attnum > 0 AND NOT a.attisdropped
               AND col_description(c.oid, a.attnum) IS NULL AND NOT c.relispartition
            UNION ALL
            SELECT 'function ' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'certbus' AND obj_description(p.oid, 'pg_proc') IS NULL
            ORDER BY 1
            """
        ).map { try $0.decode("object", as: String.self) }
        #expect(uncommented == [], "every certbus table, view, column and function needs a COMMENT")
    }

    @Test func concurrentMigratorsApplyOnce() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let migrator = try Migrator.located()
        let results = Locked<[Result<[String], Error>]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            let outcome = Result { () throws -> [String] in
                let c = try db.connect()
                defer { c.close() }
                return try migrator.migrate(c)
            }
            results.withLock { $0.append(outcome) }
        }
        let applied = try results.withLock { try $0.map { try $0.get() } }
        #expect(applied.filter { !$0.isEmpty }.count == 1)
        #expect(applied.flatMap { $0 }.count == (try migrator.migrations().count))
    }

    @Test func editedMigrationIsRefused() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let dir = try scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try db.connect()
        let migrator = Migrator(directory: dir)
        try migrator.migrate(c)
        let file = dir.appendingPathComponent("001_foundation.sql")
        try (String(contentsOf: file, encoding: .utf8) + "\n-- sneaky edit\n").write(to: file, atomically: true, encoding: .utf8)
        let error = try #require(throws: MigrationError.self) { try migrator.migrate(c) }
        #expect(error.migration == "001_foundation.sql")
        #expect(error.message.contains("edited"))
        #expect(throws: MigrationError.self) { try migrator.status(c) }
    }

    @Test func missingAppliedFileIsRefused() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let dir = try scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try db.connect()
        let migrator = Migrator(directory: dir)
        try migrator.migrate(c)
        let last = try #require(try migrator.migrations().last)
        try FileManager.default.removeItem(at: dir.appendingPathComponent(last.name))
        let error = try #require(throws: MigrationError.self) { try migrator.migrate(c) }
        #expect(error.message.contains("missing"))
    }

    @Test func failingMigrationRollsBackWholly() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let dir = try scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "CREATE TABLE certbus.half_done (x int);\nSELECT no_such_function();\n"
            .write(to: dir.appendingPathComponent("998_broken.sql"), atomically: true, encoding: .utf8)
        let c = try db.connect()
        let error = try #require(throws: MigrationError.self) { try Migrator(directory: dir).migrate(c) }
        #expect(error.migration == "998_broken.sql")
        #expect(error.underlying?.sqlState == "42883")
        #expect(try c.query("SELECT to_regclass('certbus.half_done') IS NULL AS gone")[0].decode("gone", as: Bool.self))
        #expect(try c.query("SELECT count(*) AS n FROM certbus.schema_migrations WHERE name = '998_broken.sql'")[0].decode("n", as: Int.self) == 0)
    }

    @Test func badFileNamesAreRefused() throws {
        let dir = try scratchCopy()
        defer { try? FileManager.default.removeItem(at: dir) }
        try "SELECT 1;".write(to: dir.appendingPathComponent("5_Bad Name.sql"), atomically: true, encoding: .utf8)
        #expect(throws: MigrationError.self) { try Migrator(directory: dir).migrations() }
    }
}

/// A tiny lock-protected box for collecting results from threads.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
