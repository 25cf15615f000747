import CertbusDatabase
import EmbeddedPostgres
import Foundation
import Postgres

/// A throwaway PostgreSQL database for one test.
///
/// All tests of a checkout share one embedded test cluster
/// (`<checkout>/.certbus/test-cluster`, unix socket only, fsync off), started on
/// first use and left running for the next run (`scripts/test` stops it at the
/// end). Each test gets its own database, copied from a template that holds the
/// current migrations (rebuilt when a file in `sql/` changes), so tests are
/// isolated, run in parallel, and a test database costs one `CREATE DATABASE`.
/// Call `drop()` when done (`defer { db.drop() }`).
public final class TestDatabase: @unchecked Sendable {
    /// The database's name in the test cluster.
    public let name: String
    /// libpq connection string for this database.
    public let connectionString: String

    init(name: String, connectionString: String) {
        self.name = name
        self.connectionString = connectionString
    }

    /// A new database: migrated to the current schema, or empty (`migrated: false`)
    /// for tests of the migrator itself.
    public static func create(migrated: Bool = true, function: String = #function) throws -> TestDatabase {
        let cluster = try TestCluster.shared()
        let name = TestCluster.uniqueName(prefix: "t")
        let template = migrated ? try TestCluster.migratedTemplate() : "template0"
        try TestCluster.withAdmin { admin in
            try admin.execute("CREATE DATABASE \(try admin.quoteIdentifier(name)) TEMPLATE \(try admin.quoteIdentifier(template))")
            try admin.execute(
                "COMMENT ON DATABASE \(try admin.quoteIdentifier(name)) IS \(Self.literal("certbus test: " + function))")
        }
        return TestDatabase(name: name, connectionString: cluster.connectionString(database: name))
    }

    private static func literal(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    /// A configuration for connecting to this database.
    public func configuration(applicationName: String = "certbus-test") -> ConnectionConfiguration {
        ConnectionConfiguration(connectionString, applicationName: applicationName)
    }

    /// Opens a new connection to this database.
    public func connect(applicationName: String = "certbus-test") throws -> Connection {
        try Connection(configuration: configuration(applicationName: applicationName))
    }

    /// A pool on this database.
    public func pool(maximumConnections: Int = 4, acquireTimeout: Double = 10) -> ConnectionPool {
        ConnectionPool(configuration: configuration(), maximumConnections: maximumConnections, acquireTimeout: acquireTimeout)
    }

    /// Drops the database, disconnecting anyone still connected.
    public func drop() {
        try? TestCluster.withAdmin { admin in
            try admin.execute("DROP DATABASE IF EXISTS \(try admin.quoteIdentifier(name)) WITH (FORCE)")
        }
    }
}

/// The shared test cluster and its migrated template database.
public enum TestCluster {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var cluster: EmbeddedCluster?
    nonisolated(unsafe) private static var template: String?
    nonisolated(unsafe) private static var counter = 0

    /// The checkout this module was compiled from.
    public static var checkoutDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// The shared cluster, started if needed.
    public static func shared() throws -> EmbeddedCluster {
        lock.lock()
        defer { lock.unlock() }
        if let cluster { return cluster }
        var configuration = EmbeddedClusterConfiguration(
            dataDirectory: checkoutDirectory.appendingPathComponent(".certbus/test-cluster").path)
        configuration.settings = [
            "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "400",
            "shared_buffers": "128MB",
        ]
        let c = try EmbeddedCluster(configuration)
        try c.start(timeout: 60)
        cluster = c
        return c
    }

    /// A fresh private cluster in a temporary folder, for tests that stop or
    /// restart the server. The caller stops it and removes `dataDirectory`.
    public static func makePrivate() throws -> (cluster: EmbeddedCluster, dataDirectory: String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-private-\(uniqueName(prefix: "c"))")
        var configuration = EmbeddedClusterConfiguration(dataDirectory: dir.appendingPathComponent("pg").path)
        configuration.settings = ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"]
        let c = try EmbeddedCluster(configuration)
        try c.start(timeout: 60)
        return (c, dir.path)
    }

    /// A name unique across processes and runs: prefix, pid, counter, random suffix.
    public static func uniqueName(prefix: String) -> String {
        lock.lock()
        counter += 1
        let n = counter
        lock.unlock()
        let random = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(prefix)_\(getpid())_\(n)_\(random)"
    }

    /// Runs `body` with a connection to the cluster's `postgres` database.
    public static func withAdmin<T>(_ body: (Connection) throws -> T) throws -> T {
        let c = try shared()
        let connection = try Connection(
            configuration: ConnectionConfiguration(c.connectionString(database: "postgres"), applicationName: "certbus-test-admin"))
        defer { connection.close() }
        return try body(connection)
    }

    /// The name of a template database holding the current migrations, built once
    /// per content of `sql/` (under an advisory lock, so parallel test processes share it).
    public static func migratedTemplate() throws -> String {
        lock.lock()
        if let template {
            lock.unlock()
            return template
        }
        lock.unlock()
        let migrator = try Migrator.located()
        let files = try migrator.migrations()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for file in files {
            for byte in (file.name + "\u{0}" + file.sql).utf8 {
                hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
            }
        }
        let name = "certbus_template_" + String(hash, radix: 16)
        let cluster = try shared()
        try withAdmin { admin in
            try admin.execute("SELECT pg_advisory_lock(4242)")
            defer { _ = try? admin.execute("SELECT pg_advisory_unlock(4242)") }
            if try admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [name]).isEmpty {
                // Old templates of earlier sql/ contents.
                for row in try admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'certbus_template_%'") {
                    let old = try row.decode("datname", as: String.self)
                    try? admin.execute("ALTER DATABASE \(try admin.quoteIdentifier(old)) IS_TEMPLATE false")
                    try? admin.execute("DROP DATABASE IF EXISTS \(try admin.quoteIdentifier(old)) WITH (FORCE)")
                }
                let building = name + "_building"
                try admin.execute("DROP DATABASE IF EXISTS \(try admin.quoteIdentifier(building)) WITH (FORCE)")
                try admin.execute("CREATE DATABASE \(try admin.quoteIdentifier(building)) TEMPLATE template0")
                let connection = try Connection(
                    configuration: ConnectionConfiguration(
                        cluster.connectionString(database: building), applicationName: "certbus-test-template"))
                try migrator.migrate(connection)
                connection.close()
                try admin.execute("ALTER DATABASE \(try admin.quoteIdentifier(building)) RENAME TO \(try admin.quoteIdentifier(name))")
                try admin.execute("ALTER DATABASE \(try admin.quoteIdentifier(name)) IS_TEMPLATE true ALLOW_CONNECTIONS false")
            }
        }
        lock.lock()
        template = name
        lock.unlock()
        return name
    }

    /// The `certbus` executable built next to the test bundle, for end-to-end tests.
    public static var certbusExecutable: URL {
        let bundleDir = URL(fileURLWithPath: CommandLine.arguments.first ?? "").deletingLastPathComponent()
        for candidate in [
            bundleDir.appendingPathComponent("certbus"),
            bundleDir.deletingLastPathComponent().appendingPathComponent("certbus"),
            checkoutDirectory.appendingPathComponent(".build/debug/certbus"),
        ] where FileManager.default.isExecutableFile(atPath: candidate.path) {
            return candidate
        }
        return checkoutDirectory.appendingPathComponent(".build/debug/certbus")
    }
}
