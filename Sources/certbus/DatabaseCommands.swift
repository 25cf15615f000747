import CertbusArguments
import EmbeddedPostgres
import Foundation

/// `certbus db start|stop|status|url`: manage the embedded PostgreSQL cluster.
///
/// These commands only manage the embedded cluster. When the database is given
/// by `--database-url` or `CERTBUS_DATABASE_URL`, `start`, `stop` and `status`
/// say there is nothing to manage (exit 0), and `url` prints that URL.
enum DatabaseCommands {
    static let dataDirectory = Option<String>(
        "data-dir", valueName: "dir",
        help: "The embedded cluster's data directory (default: $CERTBUS_HOME/postgres or ./.certbus/postgres).")
    static let setting = Option<String>(
        "set", valueName: "name=value", repeatable: true, help: "Add a postgresql.conf setting for this start, e.g. fsync=off.")
    static let timeout = Option<TimeSpan>(
        "timeout", default: TimeSpan(seconds: 60), help: "How long to wait for the server to start or stop.")
    static let databaseName = Option<String>(
        "dbname", valueName: "name", default: CommandContext.embeddedDatabaseName, help: "The database named in the URL.")
    static let keywordForm = Flag("keyword", help: "Print a libpq keyword/value string (host=... port=...) instead of a URL.")

    /// The `db` group.
    static let command = Command(
        "db", abstract: "Start, stop and inspect the embedded PostgreSQL cluster.",
        discussion: """
            certbus can run its own PostgreSQL cluster from the system's server binaries \
            (apt-get install postgresql). It lives in $CERTBUS_HOME/postgres, or in ./.certbus/postgres, \
            and listens only on a unix socket. With --database-url or CERTBUS_DATABASE_URL there is no \
            embedded cluster to manage.
            """,
        subcommands: [start, stop, status, url])

    static let start = Command(
        "start", abstract: "Create the embedded cluster if needed and start it.",
        options: CommandContext.options + [dataDirectory, setting, timeout]
    ) { invocation in
        let context = CommandContext(invocation)
        guard let cluster = try cluster(context, settings: try settings(invocation)) else { return }
        let started = try cluster.start(timeout: invocation[timeout]!.timeInterval)
        let pid = runningPID(cluster)
        var lines = [
            started ? "PostgreSQL started (pid \(pid.map(String.init) ?? "?"))" : "PostgreSQL was already running (pid \(pid.map(String.init) ?? "?"))",
            "data directory: \(cluster.dataDirectory)",
        ]
        if cluster.isRelocated {
            lines.append("  (relocated from \(cluster.requestedDataDirectory): user \(cluster.serviceUser ?? "?") cannot reach it)")
        }
        lines.append("url: \(cluster.url(database: CommandContext.embeddedDatabaseName))")
        try context.emit(
            text: lines.joined(separator: "\n"),
            json: description(of: cluster).merging(["started": .bool(started)]))
    }

    static let stop = Command(
        "stop", abstract: "Stop the embedded cluster (fast shutdown: open sessions are ended).",
        options: CommandContext.options + [dataDirectory, timeout]
    ) { invocation in
        let context = CommandContext(invocation)
        guard let cluster = try cluster(context) else { return }
        let wasRunning = runningPID(cluster) != nil
        try cluster.stop(timeout: invocation[timeout]!.timeInterval)
        try context.emit(
            text: wasRunning ? "PostgreSQL stopped" : "PostgreSQL was not running",
            json: description(of: cluster).merging(["was_running": .bool(wasRunning)]))
    }

    static let status = Command(
        "status", abstract: "Say whether the embedded cluster is running. Exit status 0 if running, 3 if not.",
        options: CommandContext.options + [dataDirectory]
    ) { invocation in
        let context = CommandContext(invocation)
        guard let cluster = try cluster(context) else { return }
        let state = cluster.status()
        var lines: [String]
        switch state {
        case .running(let pid): lines = ["running (pid \(pid))"]
        case .stopped: lines = ["stopped"]
        case .notInitialized: lines = ["not initialized (certbus db start creates it)"]
        }
        lines.append("data directory: \(cluster.dataDirectory)")
        lines.append("socket directory: \(cluster.socketDirectory)")
        lines.append("url: \(cluster.url(database: CommandContext.embeddedDatabaseName))")
        try context.emit(text: lines.joined(separator: "\n"), json: .object(description(of: cluster)))
        if case .running = state { return }
        throw ExitCode(3)
    }

    static let url = Command(
        "url", abstract: "Print the URL of the database certbus uses.",
        options: CommandContext.options + [dataDirectory, databaseName, keywordForm]
    ) { invocation in
        let context = CommandContext(invocation)
        let name = invocation[databaseName]!
        switch context.database {
        case .url(let given, let origin):
            try context.emit(text: given, json: ["url": .string(given), "managed": false, "source": .string(origin.rawValue)])
        case .embedded(let defaultDirectory):
            let cluster = try CommandContext.embeddedCluster(dataDirectory: invocation[dataDirectory] ?? defaultDirectory)
            let text = invocation[keywordForm] ? cluster.connectionString(database: name) : cluster.url(database: name)
            try context.emit(
                text: text,
                json: ["url": .string(cluster.url(database: name)), "connection_string": .string(cluster.connectionString(database: name)),
                    "managed": true])
        }
    }

    // MARK: - Helpers

    /// The embedded cluster to manage, or nil (after saying so) when the database is external.
    static func cluster(_ context: CommandContext, settings: [String: String] = [:]) throws -> EmbeddedCluster? {
        switch context.database {
        case .url(let given, let origin):
            let message = """
                nothing to manage: certbus uses the database at \(CommandContext.redacted(given)) (from \(origin.rawValue)); \
                the db commands only manage the embedded cluster
                """
            try context.emit(
                text: message,
                json: ["managed": false, "url": .string(CommandContext.redacted(given)), "source": .string(origin.rawValue)])
            return nil
        case .embedded(let defaultDirectory):
            return try CommandContext.embeddedCluster(
                dataDirectory: context.invocation[dataDirectory] ?? defaultDirectory, settings: settings)
        }
    }

    /// `--set name=value` options as a dictionary; a usage error for a word without `=`.
    static func settings(_ invocation: Invocation) throws -> [String: String] {
        var result: [String: String] = [:]
        for word in invocation.values(setting) {
            guard let equals = word.firstIndex(of: "="), equals != word.startIndex else {
                throw UsageError("invalid value '\(word)' for '--set' of '\(invocation.commandName)': expected name=value")
            }
            result[String(word[..<equals])] = String(word[word.index(after: equals)...])
        }
        return result
    }

    static func runningPID(_ cluster: EmbeddedCluster) -> Int32? {
        if case .running(let pid) = cluster.status() { return pid }
        return nil
    }

    /// The cluster's state as JSON.
    static func description(of cluster: EmbeddedCluster) -> [String: JSONValue] {
        var object: [String: JSONValue] = [
            "managed": true,
            "data_directory": .string(cluster.dataDirectory),
            "requested_data_directory": .string(cluster.requestedDataDirectory),
            "relocated": .bool(cluster.isRelocated),
            "socket_directory": .string(cluster.socketDirectory),
            "port": .int(cluster.port),
            "url": .string(cluster.url(database: CommandContext.embeddedDatabaseName)),
        ]
        switch cluster.status() {
        case .running(let pid):
            object["status"] = "running"
            object["pid"] = .int(Int(pid))
        case .stopped: object["status"] = "stopped"
        case .notInitialized: object["status"] = "not_initialized"
        }
        if let user = cluster.serviceUser { object["service_user"] = .string(user) }
        return object
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// This object with `other`'s keys added (other wins), as a JSON value.
    func merging(_ other: [String: JSONValue]) -> JSONValue {
        .object(self.merging(other, uniquingKeysWith: { $1 }))
    }
}
