import CertbusArguments
import CertbusDatabase
import EmbeddedPostgres
import Foundation
import Postgres

/// What every database command shares: the `--database-url` and `--json`
/// options, and the rule that decides which database certbus talks to.
///
/// The database is, in order: `--database-url URL`; else the environment
/// variable `CERTBUS_DATABASE_URL` (if not empty); else the embedded cluster
/// in `$CERTBUS_HOME/postgres` if `CERTBUS_HOME` is set, else in
/// `<current directory>/.certbus/postgres`.
struct CommandContext {
    /// `--database-url URL`.
    static let databaseURL = Option<String>(
        "database-url", valueName: "url",
        help: "PostgreSQL connection URL (default: $CERTBUS_DATABASE_URL, else the embedded cluster in $CERTBUS_HOME/postgres or ./.certbus/postgres).")
    /// `--json`.
    static let json = Flag("json", help: "Print JSON instead of text.")
    /// Both, for a command's `options:` list (`options: CommandContext.options + [...]`).
    static let options: [any OptionDeclaration] = [databaseURL, json]

    /// The database name used in the embedded cluster's URL.
    static let embeddedDatabaseName = DatabaseTarget.embeddedDatabaseName

    /// Where the database is.
    enum Database: Equatable {
        /// A server given by URL; `origin` says where the URL came from.
        case url(String, origin: URLOrigin)
        /// The embedded cluster in this data directory.
        case embedded(dataDirectory: String)
    }

    /// Where a database URL came from.
    enum URLOrigin: String, Equatable {
        case option = "--database-url"
        case environment = "CERTBUS_DATABASE_URL"
    }

    /// The invocation this context was made from.
    let invocation: Invocation
    /// The database to use.
    let database: Database
    /// True if `--json` was given.
    let json: Bool

    /// Reads the shared options of `invocation` (which must declare them).
    init(_ invocation: Invocation, currentDirectory: String = FileManager.default.currentDirectoryPath) {
        self.invocation = invocation
        self.json = invocation[Self.json]
        self.database = Self.resolveDatabase(
            url: invocation[Self.databaseURL], environment: invocation.environment, currentDirectory: currentDirectory)
    }

    /// The database rule as a pure function.
    static func resolveDatabase(url: String?, environment: [String: String], currentDirectory: String) -> Database {
        if let url, !url.isEmpty { return .url(url, origin: .option) }
        if let url = environment["CERTBUS_DATABASE_URL"], !url.isEmpty { return .url(url, origin: .environment) }
        return .embedded(dataDirectory: defaultDataDirectory(environment: environment, currentDirectory: currentDirectory))
    }

    /// `$CERTBUS_HOME/postgres` if `CERTBUS_HOME` is set and not empty, else `<cwd>/.certbus/postgres`.
    static func defaultDataDirectory(environment: [String: String], currentDirectory: String) -> String {
        if let home = environment["CERTBUS_HOME"], !home.isEmpty {
            return (home as NSString).appendingPathComponent("postgres")
        }
        return (currentDirectory as NSString).appendingPathComponent(".certbus/postgres")
    }

    /// The embedded cluster for `dataDirectory` with production settings.
    static func embeddedCluster(dataDirectory: String, settings: [String: String] = [:]) throws -> EmbeddedCluster {
        var configuration = EmbeddedClusterConfiguration(dataDirectory: dataDirectory)
        configuration.settings = settings
        return try EmbeddedCluster(configuration)
    }

    /// The URL to connect to: the given one, or the embedded cluster's. With
    /// `startingEmbedded`, an embedded cluster is started first if it is not running
    /// (`migrate` and `serve` want that; `db url` does not).
    func connectionURL(
        database name: String = CommandContext.embeddedDatabaseName, startingEmbedded: Bool = false
    ) throws -> String {
        switch database {
        case .url(let url, _):
            return url
        case .embedded(let dataDirectory):
            let cluster = try Self.embeddedCluster(dataDirectory: dataDirectory)
            if startingEmbedded { try cluster.start() }
            return cluster.url(database: name)
        }
    }

    /// Prints `json` with `--json`, else `text`.
    func emit(text: String, json value: JSONValue) throws {
        if json {
            invocation.output.write(try JSONOutput.string(value))
        } else {
            invocation.print(text)
        }
    }

    /// The database target for this invocation (shared by every connection the command opens).
    func target() throws -> DatabaseTarget {
        switch database {
        case .url(let url, _):
            return try OpenTargets.shared.target(url: url, dataDirectory: nil)
        case .embedded(let dataDirectory):
            return try OpenTargets.shared.target(url: nil, dataDirectory: dataDirectory)
        }
    }

    /// How to connect, with the embedded cluster started (and its `certbus`
    /// database created) if needed. A cluster started by this process is
    /// stopped when the process exits; one started by `certbus db start` keeps running.
    func configuration(applicationName: String = "certbus-cli") throws -> ConnectionConfiguration {
        do {
            _ = try ConnectionConfiguration.preparesStatements(environment: invocation.environment)
        } catch {
            throw CommandFailure(String(describing: error))
        }
        return try target().prepare(applicationName: applicationName)
    }

    /// Opens a connection for this command (see `configuration(applicationName:)`).
    func connect(applicationName: String = "certbus-cli") throws -> Connection {
        try Connection(configuration: configuration(applicationName: applicationName))
    }

    /// A pool for long-running commands (see `configuration(applicationName:)`).
    func pool(applicationName: String, maximumConnections: Int = 10) throws -> ConnectionPool {
        ConnectionPool(configuration: try configuration(applicationName: applicationName), maximumConnections: maximumConnections)
    }

    /// `url` with any password replaced by `***`, for messages and logs.
    static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return url }
        let rest = url[scheme.upperBound...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) ?? rest.endIndex
        guard let at = rest[..<authorityEnd].lastIndex(of: "@"),
            let colon = rest[..<at].firstIndex(of: ":")
        else { return url }
        return String(url[..<rest.index(after: colon)]) + "***" + String(rest[at...])
    }
}

/// The database targets this process opened, so that embedded clusters it
/// started are stopped when it exits.
final class OpenTargets: @unchecked Sendable {
    static let shared = OpenTargets()
    private let lock = NSLock()
    private var targets: [String: DatabaseTarget] = [:]
    private var registeredExitHook = false

    func target(url: String?, dataDirectory: String?) throws -> DatabaseTarget {
        lock.lock()
        defer { lock.unlock() }
        let key = url ?? ("embedded:" + (dataDirectory ?? ""))
        if let existing = targets[key] { return existing }
        let target: DatabaseTarget
        if let url {
            target = try DatabaseTarget.resolve(databaseURL: url)
        } else {
            let home = ((dataDirectory ?? ".certbus/postgres") as NSString).deletingLastPathComponent
            target = try DatabaseTarget.resolve(databaseURL: nil, environment: ["CERTBUS_HOME": home])
        }
        targets[key] = target
        if !registeredExitHook {
            registeredExitHook = true
            atexit { OpenTargets.shared.shutdownAll() }
        }
        return target
    }

    /// Stops embedded clusters this process started.
    func shutdownAll() {
        lock.lock()
        let all = Array(targets.values)
        lock.unlock()
        for target in all { target.shutdown() }
    }
}
