import EmbeddedPostgres
import Foundation
import Postgres

/// Where certbus keeps its data: a server named by URL, or the private
/// embedded cluster that certbus starts from the system's PostgreSQL binaries
/// when no URL is given.
///
/// Resolution order: an explicit `--database-url`, then `CERTBUS_DATABASE_URL`,
/// then the embedded cluster in `$CERTBUS_HOME/postgres` (default
/// `<working directory>/.certbus/postgres`), database `certbus`.
public final class DatabaseTarget: @unchecked Sendable {
    /// The database name used inside the embedded cluster.
    public static let embeddedDatabaseName = "certbus"

    /// The connection string of a server given by URL, nil for the embedded cluster.
    public let url: String?
    /// The embedded cluster, nil when a URL was given.
    public let cluster: EmbeddedCluster?
    /// The folder holding certbus's local state (embedded cluster, key files): `$CERTBUS_HOME` or `./.certbus`.
    public let homeDirectory: String
    private let lock = NSLock()
    private var startedHere = false
    private var prepared = false

    private init(url: String?, cluster: EmbeddedCluster?, homeDirectory: String) {
        self.url = url
        self.cluster = cluster
        self.homeDirectory = homeDirectory
    }

    /// Picks the target from an explicit URL, the environment, or the embedded default.
    public static func resolve(
        databaseURL: String?, environment: [String: String] = ProcessInfo.processInfo.environment,
        workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws -> DatabaseTarget {
        let home = environment["CERTBUS_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? (workingDirectory + "/.certbus")
        if let url = databaseURL ?? environment["CERTBUS_DATABASE_URL"], !url.isEmpty {
            return DatabaseTarget(url: url, cluster: nil, homeDirectory: home)
        }
        let cluster = try EmbeddedCluster(EmbeddedClusterConfiguration(dataDirectory: home + "/postgres"))
        return DatabaseTarget(url: nil, cluster: cluster, homeDirectory: home)
    }

    /// True when this is the embedded cluster.
    public var isEmbedded: Bool { cluster != nil }

    /// A printable description (password redacted).
    public var displayName: String {
        if let url { return ConnectionConfiguration.redact(url) }
        return "embedded cluster at \(homeDirectory)/postgres"
    }

    /// Makes the database reachable — for the embedded cluster: starts it if it
    /// is not running and creates the `certbus` database — and returns how to
    /// connect to it.
    public func prepare(applicationName: String) throws -> ConnectionConfiguration {
        lock.lock()
        defer { lock.unlock() }
        if let url { return ConnectionConfiguration(url, applicationName: applicationName) }
        let cluster = cluster!
        if !prepared {
            if try cluster.start() { startedHere = true }
            let admin = try Connection(
                configuration: ConnectionConfiguration(cluster.connectionString(database: "postgres"), applicationName: applicationName))
            defer { admin.close() }
            let exists = try admin.query("SELECT 1 FROM pg_database WHERE datname = $1", [Self.embeddedDatabaseName])
            if exists.isEmpty {
                do {
                    try admin.execute("CREATE DATABASE \(try admin.quoteIdentifier(Self.embeddedDatabaseName))")
                } catch let error as PostgresError where error.sqlState == "42P04" {
                    // created by a concurrent process: fine
                }
            }
            prepared = true
        }
        return ConnectionConfiguration(cluster.connectionString(database: Self.embeddedDatabaseName), applicationName: applicationName)
    }

    /// Stops the embedded cluster if this process started it (a cluster started
    /// with `certbus db start` keeps running). Does nothing for a URL target.
    public func shutdown() {
        lock.lock()
        defer { lock.unlock() }
        if startedHere, let cluster {
            try? cluster.stop()
            startedHere = false
            prepared = false
        }
    }
}
