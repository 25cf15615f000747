import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A private PostgreSQL cluster run from the system's server binaries, reachable
/// only through a unix socket.
///
/// - `start()` creates the cluster on first use (`initdb --auth=trust
///   --encoding=UTF8 --locale=C -U <superuser>`), writes certbus's settings
///   (`certbus.conf`, included from `postgresql.conf`: socket only, socket mode
///   0700, 200 connections, 128MB shared buffers, log in `log/server.log`) and
///   starts the server with `pg_ctl start -w`. It is safe to call from several
///   processes or threads at once: initdb and start run under an `flock` on
///   `<dataDirectory>.lock`, and only one caller actually starts the server.
/// - A stale `postmaster.pid` (the server was killed with SIGKILL) does not
///   block a later `start()`.
/// - Running as root: PostgreSQL refuses to run as root, so initdb, pg_ctl and
///   the server run as the OS user `postgres` (or `certbus`, created with
///   `useradd --system` when neither exists), which is given the data
///   directory. If that user cannot traverse the path to the requested data
///   directory (say it lies under a root-only `mktemp -d` directory), certbus
///   does not loosen permissions of the caller's directories: the cluster is
///   relocated to `/var/tmp/certbus-<sha256 of the requested path>/postgres`
///   and a pointer file (`CERTBUS_RELOCATED_CLUSTER`) is left in the requested
///   directory, so that later `status()`, `stop()` and `url()` calls with the
///   same requested path find it. `dataDirectory` tells where it really is.
/// - If `<data dir>/.s.PGSQL.<port>` would not fit the 107-byte socket path
///   limit, the socket goes to `/tmp/certbus-<hash of the data dir>` instead.
///
/// The object holds no server state of its own: every call looks at the
/// files, so several instances for the same directory agree.
public final class EmbeddedCluster: @unchecked Sendable {
    /// The configuration this cluster was created with.
    public let configuration: EmbeddedClusterConfiguration
    let account: ServiceAccount?
    let layout: ClusterLayout
    private let binariesLock = NSLock()
    private var cachedBinaries: PostgresBinaries?

    /// Prepares to manage the cluster in `configuration.dataDirectory`; creates
    /// nothing on disk. Throws for an empty data directory or a port outside
    /// 1...65535, and (as root) if no service account exists or can be created.
    public init(_ configuration: EmbeddedClusterConfiguration) throws {
        guard !configuration.dataDirectory.isEmpty else {
            throw EmbeddedClusterError(what: "the embedded cluster's data directory is empty")
        }
        guard (1...65535).contains(configuration.port) else {
            throw EmbeddedClusterError(what: "port \(configuration.port) is not in 1...65535")
        }
        self.configuration = configuration
        let account = try ServiceAccount.resolveForCurrentProcess()
        self.account = account
        self.layout = ClusterLayout.resolve(requested: configuration.dataDirectory, port: configuration.port) {
            requested in
            guard let account else { return false }
            let ancestor = ClusterLayout.nearestExistingAncestor(of: requested) {
                FileManager.default.fileExists(atPath: $0)
            }
            return !account.canTraverse(ancestor)
        }
    }

    // MARK: - Where things are

    /// The data directory actually used (differs from the requested one when relocated).
    public var dataDirectory: String { layout.dataDirectory }
    /// The requested data directory, made absolute.
    public var requestedDataDirectory: String { layout.requestedDirectory }
    /// True if the cluster lives in `/var/tmp/certbus-…` instead of the requested directory.
    public var isRelocated: Bool { layout.isRelocated }
    /// The directory holding the server's socket.
    public var socketDirectory: String { layout.socketDirectory }
    /// The port number naming the socket file `.s.PGSQL.<port>`.
    public var port: Int { layout.port }
    /// The server log file.
    public var logFile: String { layout.logFile }
    /// The OS user that runs the server when this process is root; nil otherwise.
    public var serviceUser: String? { account?.name }

    /// A libpq keyword/value connection string: `host=<socket dir> port=<port> user=<superuser> dbname=<database>`.
    public func connectionString(database: String = "postgres") -> String {
        ConnectionStrings.keywordValue(
            socketDirectory: socketDirectory, port: port, user: configuration.superuser, database: database)
    }

    /// A libpq URL: `postgresql://<superuser>@/<database>?host=<percent-encoded socket dir>&port=<port>`.
    public func url(database: String = "postgres") -> String {
        ConnectionStrings.url(socketDirectory: socketDirectory, port: port, user: configuration.superuser, database: database)
    }

    // MARK: - Status

    /// The cluster's state now: not initialised, stopped (including a stale pid file), or running.
    public func status() -> EmbeddedClusterStatus {
        guard FileManager.default.fileExists(atPath: dataDirectory + "/PG_VERSION") else { return .notInitialized }
        guard let pid = Self.postmasterPID(in: dataDirectory), Self.isLivePostgres(pid) else { return .stopped }
        return .running(pid: pid)
    }

    /// The pid on the first line of `postmaster.pid`, if the file exists.
    static func postmasterPID(in dataDirectory: String) -> Int32? {
        guard let text = try? String(contentsOfFile: dataDirectory + "/postmaster.pid", encoding: .utf8),
            let line = text.split(separator: "\n").first,
            let pid = Int32(line.trimmingCharacters(in: .whitespaces)), pid > 0
        else { return nil }
        return pid
    }

    /// True if `postmaster.pid` names a live (non-zombie) postgres process.
    static func hasLivePostmaster(_ dataDirectory: String) -> Bool {
        guard let pid = postmasterPID(in: dataDirectory) else { return false }
        return isLivePostgres(pid)
    }

    /// Waits (until `deadline`) while `postmaster.pid` names a process that
    /// exists but is not a live postgres, i.e. a killed postmaster not yet reaped.
    static func waitForUnreapedPostmaster(_ dataDirectory: String, until deadline: Date) {
        guard let pid = postmasterPID(in: dataDirectory) else { return }
        while kill(pid, 0) == 0 && !isLivePostgres(pid) && Date() < deadline {
            usleep(50_000)
        }
    }

    /// True if `pid` is alive, not a zombie, and (where `/proc` tells) a postgres process.
    static func isLivePostgres(_ pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 || errno == EPERM else { return false }
        // /proc/<pid>/stat: "<pid> (<comm>) <state> ..."; a killed server whose
        // parent does not reap it stays a zombie ("Z") that kill(pid, 0) still finds.
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")")
        else { return true }
        let name = stat[stat.index(after: open)..<close]
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).prefix(1)
        guard state != "Z", state != "X" else { return false }
        return name.contains("postgres") || name.contains("postmaster")
    }

    // MARK: - Start and stop

    /// Starts the server, creating the cluster first if needed, and waits until
    /// it accepts connections (at most `timeout` seconds for the server start).
    /// Returns true if this call started it, false if it was already running.
    @discardableResult
    public func start(timeout: Double = 30) throws -> Bool {
        try makeDirectories((layout.requestedDirectory as NSString).deletingLastPathComponent)
        return try ClusterLock.withLock(layout.lockFile, timeout: timeout + 120) {
            if case .running = status() { return false }
            let binaries = try self.binaries()
            try prepareDataDirectory()
            if status() == .notInitialized { try initialize(binaries) }
            try writeSettings()
            try prepareSocketDirectory()
            try startServer(binaries, timeout: timeout)
            return true
        }
    }

    /// Stops the server with a fast shutdown (open sessions are ended) and
    /// waits at most `timeout` seconds. Does nothing if it is not running.
    public func stop(timeout: Double = 30) throws {
        guard case .running = status() else { return }
        try ClusterLock.withLock(layout.lockFile, timeout: timeout + 120) {
            guard case .running = status() else { return }
            let command = [try binaries().pgCtl, "stop", "-D", dataDirectory, "-m", "fast", "-w", "-t", seconds(timeout), "-s"]
            let result = try runAsServiceAccount(command)
            if !result.succeeded, case .running = status() {
                throw failure("PostgreSQL did not stop", command: command, output: result.output)
            }
        }
    }

    /// Stops the server and deletes the cluster: the data directory, the
    /// relocation directory and pointer file if relocated, and the separate
    /// socket directory if one was used. The lock file is left in place.
    public func destroy(timeout: Double = 30) throws {
        try stop(timeout: timeout)
        let fileManager = FileManager.default
        func remove(_ path: String) throws {
            guard fileManager.fileExists(atPath: path) else { return }
            do { try fileManager.removeItem(atPath: path) } catch {
                throw EmbeddedClusterError(what: "could not delete \(path): \(error.localizedDescription)")
            }
        }
        if let relocationRoot = layout.relocationRoot {
            try remove(relocationRoot)
            try remove(layout.pointerFile)
            if (try? fileManager.contentsOfDirectory(atPath: layout.requestedDirectory))?.isEmpty == true {
                try remove(layout.requestedDirectory)
            }
        } else {
            try remove(dataDirectory)
        }
        if layout.hasSeparateSocketDirectory { try remove(socketDirectory) }
    }

    // MARK: - Steps

    private func binaries() throws -> PostgresBinaries {
        binariesLock.lock()
        defer { binariesLock.unlock() }
        if let cachedBinaries { return cachedBinaries }
        let found = try PostgresBinaries.discover(explicit: configuration.binDirectory)
        cachedBinaries = found
        return found
    }

    /// Creates the (relocated) data directory owned by the service account, and the pointer file.
    private func prepareDataDirectory() throws {
        let fileManager = FileManager.default
        if let relocationRoot = layout.relocationRoot {
            if fileManager.fileExists(atPath: relocationRoot) {
                try requireOwnedByServer(relocationRoot)
            } else {
                try makeDirectory(relocationRoot, mode: 0o700, ownedByServer: true)
            }
            try makeDirectories(layout.requestedDirectory)
            if !fileManager.fileExists(atPath: layout.pointerFile) {
                do {
                    try (dataDirectory + "\n").write(toFile: layout.pointerFile, atomically: true, encoding: .utf8)
                } catch {
                    throw failure("could not write the relocation pointer \(layout.pointerFile): \(error.localizedDescription)")
                }
            }
        }
        if !fileManager.fileExists(atPath: dataDirectory) {
            try makeDirectories((dataDirectory as NSString).deletingLastPathComponent)
            try makeDirectory(dataDirectory, mode: 0o700, ownedByServer: true)
        }
    }

    /// Runs initdb and hooks certbus.conf into postgresql.conf.
    private func initialize(_ binaries: PostgresBinaries) throws {
        var command = [
            binaries.initdb, "-D", dataDirectory, "--auth=trust", "--encoding=UTF8", "--locale=C",
            "-U", configuration.superuser,
        ]
        if configuration.settings["fsync"]?.lowercased() == "off" { command.append("--no-sync") }
        let result = try runAsServiceAccount(command)
        guard result.succeeded else { throw failure("initdb failed", command: command, output: result.output) }
        let confPath = dataDirectory + "/postgresql.conf"
        guard let handle = FileHandle(forWritingAtPath: confPath) else {
            throw failure("could not open \(confPath) to include \(ServerSettings.fileName)")
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data(("\n" + ServerSettings.includeLine + "\n").utf8))
    }

    /// Writes certbus.conf and makes sure the log directory exists.
    private func writeSettings() throws {
        let text = try ServerSettings.render(
            socketDirectory: socketDirectory, port: port, overrides: configuration.settings)
        let path = dataDirectory + "/" + ServerSettings.fileName
        do {
            try text.write(toFile: path, atomically: false, encoding: .utf8)
        } catch {
            throw failure("could not write \(path): \(error.localizedDescription)")
        }
        chmod(path, 0o600)
        try account?.takeOwnership(of: path)
        let logDirectory = dataDirectory + "/log"
        if !FileManager.default.fileExists(atPath: logDirectory) {
            try makeDirectory(logDirectory, mode: 0o700, ownedByServer: true)
        }
    }

    /// Creates the separate socket directory (mode 0700, owned by the server's user) if one is used.
    private func prepareSocketDirectory() throws {
        guard layout.hasSeparateSocketDirectory else { return }
        if FileManager.default.fileExists(atPath: socketDirectory) {
            try requireOwnedByServer(socketDirectory)
        } else {
            try makeDirectory(socketDirectory, mode: 0o700, ownedByServer: true)
        }
    }

    /// `pg_ctl start -w`, retried while a killed server's children still hold its shared memory.
    private func startServer(_ binaries: PostgresBinaries, timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        Self.waitForUnreapedPostmaster(dataDirectory, until: deadline)
        while true {
            let remaining = max(1, deadline.timeIntervalSinceNow)
            let command = [
                binaries.pgCtl, "start", "-w", "-t", seconds(remaining), "-D", dataDirectory, "-l", logFile, "-s",
            ]
            let result = try runAsServiceAccount(command)
            if result.succeeded { return }
            let log = logTail(lines: 5)
            // A killed server's children may still hold its shared memory, and a
            // killed postmaster stays a zombie (which PostgreSQL takes for alive)
            // until its parent reaps it: both pass, so wait for them.
            let leftovers =
                log.contains("pre-existing shared memory block") || log.contains("is still in use")
                || (log.contains("lock file \"postmaster.pid\" already exists") && !Self.hasLivePostmaster(dataDirectory))
            if leftovers && Date() < deadline {
                usleep(250_000)
                continue
            }
            throw failure("PostgreSQL did not start", command: command, output: result.output)
        }
    }

    // MARK: - Helpers

    private func runAsServiceAccount(_ command: [String]) throws -> ProgramResult {
        try ProgramRunner.run(account?.wrap(command) ?? command)
    }

    private func seconds(_ timeout: Double) -> String { String(max(1, Int(timeout.rounded(.up)))) }

    /// The last lines of the server log, or "" if there is none.
    func logTail(lines: Int = 30) -> String {
        guard let text = try? String(contentsOfFile: logFile, encoding: .utf8) else { return "" }
        return text.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }

    private func failure(_ what: String, command: [String]? = nil, output: String = "") -> EmbeddedClusterError {
        EmbeddedClusterError(
            what: what, command: command, output: output, logTail: logTail(), dataDirectory: dataDirectory)
    }

    /// `mkdir -p` where each created directory gets mode 0755 regardless of the umask.
    private func makeDirectories(_ path: String) throws {
        guard !path.isEmpty, path != "/", !FileManager.default.fileExists(atPath: path) else { return }
        try makeDirectories((path as NSString).deletingLastPathComponent)
        try makeDirectory(path, mode: 0o755, ownedByServer: false)
    }

    private func makeDirectory(_ path: String, mode: mode_t, ownedByServer: Bool) throws {
        if mkdir(path, mode) != 0 && errno != EEXIST {
            throw failure("could not create directory \(path): \(String(cString: strerror(errno)))")
        }
        chmod(path, mode)
        if ownedByServer { try account?.takeOwnership(of: path) }
    }

    /// Refuses a pre-existing shared directory (in /tmp or /var/tmp) that someone else owns.
    private func requireOwnedByServer(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw failure("could not inspect \(path): \(String(cString: strerror(errno)))")
        }
        let expected = account?.uid ?? UInt32(geteuid())
        guard UInt32(info.st_uid) == expected else {
            throw failure(
                "\(path) already exists and belongs to uid \(info.st_uid), not to the cluster's user (uid \(expected)); remove it or choose another data directory")
        }
    }
}
