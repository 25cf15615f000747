import CLibPQ
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A notification received on a channel this connection listens to.
public struct PostgresNotification: Sendable, Equatable {
    /// The channel name.
    public var channel: String
    /// The payload text (certbus sends only ids or kinds, never data).
    public var payload: String
    /// The backend process id of the session that sent it.
    public var senderPID: Int32

    public init(channel: String, payload: String, senderPID: Int32) {
        self.channel = channel
        self.payload = payload
        self.senderPID = senderPID
    }
}

/// Where a connection's notices go (libpq calls back with a C pointer to it).
private final class NoticeSink: @unchecked Sendable {
    private let lock = NSLock()
    private var _handler: (@Sendable (String) -> Void)?

    var handler: (@Sendable (String) -> Void)? {
        get { lock.withLock { _handler } }
        set { lock.withLock { _handler = newValue } }
    }

    func receive(_ message: String) {
        handler?(message.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Transaction isolation levels.
public enum IsolationLevel: String, Sendable {
    case readCommitted = "READ COMMITTED"
    case repeatableRead = "REPEATABLE READ"
    case serializable = "SERIALIZABLE"
}

/// One session with a PostgreSQL server.
///
/// A `Connection` is blocking and is not safe for concurrent use: one thread
/// drives it at a time. libpq calls block their thread for a network round
/// trip, so certbus never calls them on Swift's cooperative thread pool (only
/// two threads on a 2-core machine, and one blocked call would stall every
/// task). Code that runs on its own thread (workers, listeners, the CLI) uses
/// a `Connection` directly; async code goes through `ConnectionPool`, whose
/// async methods run the blocking work on dedicated threads and resume the
/// caller when it is done.
public final class Connection: @unchecked Sendable {
    private var handle: OpaquePointer?
    private let notices = NoticeSink()
    /// What this connection was opened with.
    public let configuration: ConnectionConfiguration

    /// Called with the text of every notice, warning or log message the server sends this
    /// session (`RAISE NOTICE`, `auto_explain` at `log_level = notice`, ...), on the thread
    /// that runs the statement. Nil (the default) drops them. Survives `reconnect()`.
    public var onNotice: (@Sendable (String) -> Void)? {
        get { notices.handler }
        set { notices.handler = newValue }
    }

    /// Opens a connection, sets the session to UTC and ISO dates, and tags it with
    /// the configuration's `application_name`. Throws a `.connection` error
    /// whose message never contains the password.
    public init(configuration: ConnectionConfiguration) throws {
        self.configuration = configuration
        self.handle = try Self.open(configuration)
        installNoticeProcessor()
    }

    private func installNoticeProcessor() {
        guard let handle else { return }
        // The sink lives as long as this Connection, and the handle never outlives it.
        PQsetNoticeProcessor(handle, { sink, message in
            guard let sink, let message else { return }
            Unmanaged<NoticeSink>.fromOpaque(sink).takeUnretainedValue().receive(String(cString: message))
        }, Unmanaged.passUnretained(notices).toOpaque())
    }

    /// Opens a connection; see `init(configuration:)`.
    public static func connect(_ configuration: ConnectionConfiguration) throws -> Connection {
        try Connection(configuration: configuration)
    }

    /// Opens a connection from a URL or keyword connection string.
    public static func connect(_ connectionString: String, applicationName: String = "certbus") throws -> Connection {
        try Connection(configuration: ConnectionConfiguration(connectionString, applicationName: applicationName))
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    private static func open(_ configuration: ConnectionConfiguration) throws -> OpaquePointer {
        let keywords = ["dbname", "application_name", "connect_timeout", "client_encoding"]
        let values = [
            configuration.connectionString, configuration.applicationName, String(configuration.connectTimeout), "UTF8",
        ]
        let kw = keywords.map { strdup($0) }
        let vs = values.map { strdup($0) }
        defer {
            kw.forEach { free($0) }
            vs.forEach { free($0) }
        }
        var kwPointers: [UnsafePointer<CChar>?] = kw.map { UnsafePointer($0) } + [nil]
        var vPointers: [UnsafePointer<CChar>?] = vs.map { UnsafePointer($0) } + [nil]
        guard let conn = PQconnectdbParams(&kwPointers, &vPointers, 1) else {
            throw PostgresError(kind: .connection, message: "out of memory while connecting")
        }
        if PQstatus(conn) != CONNECTION_OK {
            let message = Self.cleanMessage(PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(
                kind: .connection,
                message: "could not connect to \(Self.describeTarget(configuration)): \(message)")
        }
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        guard let setup = PQexec(conn, "SET TimeZone TO 'UTC'; SET DateStyle TO 'ISO, YMD'; SET IntervalStyle TO 'iso_8601'")
        else {
            PQfinish(conn)
            throw PostgresError(kind: .connection, message: "could not configure the session")
        }
        let ok = PQresultStatus(setup) == PGRES_COMMAND_OK
        PQclear(setup)
        if !ok {
            let message = Self.cleanMessage(PQerrorMessage(conn))
            PQfinish(conn)
            throw PostgresError(kind: .connection, message: "could not configure the session: \(message)")
        }
        return conn
    }

    /// A description of where we tried to connect, without any password.
    static func describeTarget(_ configuration: ConnectionConfiguration) -> String {
        ConnectionConfiguration.redact(configuration.connectionString)
    }

    static func cleanMessage(_ raw: UnsafePointer<CChar>?) -> String {
        guard let raw else { return "unknown error" }
        return String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
            .replacingOccurrences(of: "\n", with: "; ")
    }

    private func requireHandle() throws -> OpaquePointer {
        guard let handle else { throw PostgresError(kind: .closed, message: "the connection was closed") }
        return handle
    }

    /// True while the connection is open and the server is reachable as far as libpq knows.
    public var isOpen: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// True when a transaction block is open (possibly failed).
    public var isInTransaction: Bool {
        guard let handle else { return false }
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// True when the open transaction block has failed and only ROLLBACK is accepted.
    public var isTransactionFailed: Bool {
        guard let handle else { return false }
        return PQtransactionStatus(handle) == PQTRANS_INERROR
    }

    /// The server process id of this session (for `pg_terminate_backend` and logs).
    public var backendPID: Int32 {
        guard let handle else { return 0 }
        return PQbackendPID(handle)
    }

    /// The server's version number, e.g. 150018.
    public var serverVersion: Int {
        guard let handle else { return 0 }
        return Int(PQserverVersion(handle))
    }

    /// The socket descriptor, for waiting on notifications with poll(2).
    public var socket: Int32 {
        guard let handle else { return -1 }
        return PQsocket(handle)
    }

    /// Closes the session. Further calls throw a `.closed` error.
    public func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    /// Closes and opens the session again (after a server restart, for example).
    /// Listens are not restored; `NotificationListener` does that for you.
    public func reconnect() throws {
        close()
        preparedStatements.removeAll()
        handle = try Self.open(configuration)
        installNoticeProcessor()
    }

    // MARK: - Queries

    /// Runs one statement with `$1`, `$2`, ... parameters and returns its rows.
    /// Values are always sent as parameters, never spliced into the SQL.
    @discardableResult
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> QueryResult {
        let conn = try requireHandle()
        let count = parameters.count
        var buffers: [UnsafeMutablePointer<CChar>?] = []
        var lengths: [Int32] = []
        var formats: [Int32] = []
        var types: [Oid] = []
        buffers.reserveCapacity(count)
        lengths.reserveCapacity(count)
        formats.reserveCapacity(count)
        types.reserveCapacity(count)
        defer { buffers.forEach { free($0) } }
        for (i, parameter) in parameters.enumerated() {
            switch parameter.postgresParameter {
            case .null:
                buffers.append(nil)
                lengths.append(0)
                formats.append(0)
                types.append(0)
            case .text(let text):
                var utf8 = Array(text.utf8)
                if utf8.contains(0) {
                    throw PostgresError(
                        kind: .server, message: "parameter $\(i + 1) contains a NUL byte, which PostgreSQL text cannot hold",
                        sqlState: "22021", query: sql)
                }
                utf8.append(0)
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: utf8.count)
                utf8.withUnsafeBufferPointer { src in
                    UnsafeMutableRawPointer(buffer).copyMemory(from: src.baseAddress!, byteCount: src.count)
                }
                buffers.append(buffer)
                lengths.append(0)
                formats.append(0)
                types.append(0)
            case .bytea(let data):
                let buffer = UnsafeMutablePointer<CChar>.allocate(capacity: max(data.count, 1))
                data.withUnsafeBytes { src in
                    if let base = src.baseAddress { UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: src.count) }
                }
                buffers.append(buffer)
                lengths.append(Int32(data.count))
                formats.append(1)
                types.append(17)
            }
        }
        let values: [UnsafePointer<CChar>?] = buffers.map { $0.map { UnsafePointer($0) } }
        if let name = try preparedStatement(sql, types: types, on: conn) {
            let result = PQexecPrepared(conn, name, Int32(count), values, lengths, formats, 0)
            do {
                return try check(result, sql: sql)
            } catch let error as PostgresError where error.sqlState == "0A000" && error.message.contains("cached plan") {
                // "cached plan must not change result type": a migration changed a table under this
                // session's statement. Forget it (the next use prepares it again); outside a
                // transaction, run it afresh at once (nothing ran), inside one the caller sees the error.
                preparedStatements.removeValue(forKey: PreparedKey(sql: sql, types: types))
                guard !isInTransaction else { throw error }
                PQexec(conn, "DEALLOCATE \(name)").map { PQclear($0) }
            }
        }
        let result = PQexecParams(conn, sql, Int32(count), types, values, lengths, formats, 0)
        let checked = try check(result, sql: sql)
        if !preparedStatements.isEmpty, Self.firstWord(sql) == "DISCARD" || Self.firstWord(sql) == "DEALLOCATE" {
            preparedStatements.removeAll()  // the server forgot them
        }
        return checked
    }

    /// Statements of this session kept prepared, by SQL text and parameter types.
    private struct PreparedKey: Hashable {
        var sql: String
        var types: [Oid]
    }
    private var preparedStatements: [PreparedKey: String] = [:]
    private var preparedCount = 0
    /// Most statements one session keeps prepared; later new ones run unprepared.
    static let maximumPreparedStatements = 512

    /// The name of the prepared statement for `sql`, preparing it on first use; nil when the
    /// statement is not one to keep (preparation off, not a data statement, or the cache full).
    private func preparedStatement(_ sql: String, types: [Oid], on conn: OpaquePointer) throws -> String? {
        guard configuration.preparesStatements else { return nil }
        let key = PreparedKey(sql: sql, types: types)
        if let name = preparedStatements[key] { return name }
        guard preparedStatements.count < Self.maximumPreparedStatements, Self.isDataStatement(sql) else { return nil }
        preparedCount += 1
        let name = "certbus_\(preparedCount)"
        _ = try check(PQprepare(conn, name, sql, Int32(types.count), types), sql: sql)
        preparedStatements[key] = name
        return name
    }

    /// True for SELECT, INSERT, UPDATE, DELETE, WITH and VALUES statements (after any leading
    /// blanks and comments): the ones worth planning once. Utility statements (SET, VACUUM,
    /// LISTEN, DDL, transaction control) always run unprepared.
    static func isDataStatement(_ sql: String) -> Bool {
        ["SELECT", "INSERT", "UPDATE", "DELETE", "WITH", "VALUES"].contains(firstWord(sql))
    }

    /// The statement's first keyword, upper-cased, after any leading blanks and comments.
    static func firstWord(_ sql: String) -> String {
        var rest = Substring(sql)
        while true {
            rest = rest.drop { $0.isWhitespace }
            if rest.hasPrefix("--") {
                rest = rest.drop { $0 != "\n" }
            } else if rest.hasPrefix("/*"), let end = rest.range(of: "*/") {
                rest = rest[end.upperBound...]
            } else {
                break
            }
        }
        return rest.prefix { $0.isLetter }.uppercased()
    }

    /// Runs one statement and returns how many rows it inserted, updated or deleted.
    @discardableResult
    public func execute(_ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> Int {
        try query(sql, parameters).affectedRows
    }

    /// Runs a script of several statements without parameters (simple query
    /// protocol). For trusted SQL files such as migrations only — never for
    /// anything containing user input.
    public func executeScript(_ sql: String) throws {
        let conn = try requireHandle()
        _ = try check(PQexec(conn, sql), sql: sql)
    }

    private func check(_ result: OpaquePointer?, sql: String) throws -> QueryResult {
        guard let result else {
            throw PostgresError(kind: .connection, message: Self.cleanMessage(PQerrorMessage(handle)), query: sql)
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_SINGLE_TUPLE:
            return QueryResult(storage: ResultStorage(result))
        default:
            let error = makeError(result, sql: sql)
            PQclear(result)
            throw error
        }
    }

    private func makeError(_ result: OpaquePointer, sql: String) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let value = PQresultErrorField(result, Int32(code.asciiValue!)) else { return nil }
            return String(cString: value)
        }
        let sqlState = field("C")
        let message = field("M") ?? Self.cleanMessage(PQresultErrorMessage(result))
        let broken = handle.map { PQstatus($0) != CONNECTION_OK } ?? true
        return PostgresError(
            kind: (sqlState == nil && broken) ? .connection : .server,
            message: message.isEmpty ? Self.cleanMessage(PQerrorMessage(handle)) : message,
            sqlState: sqlState, detail: field("D"), hint: field("H"), constraint: field("n"),
            table: field("t"), column: field("c"), query: sql)
    }

    /// Quotes an identifier (a channel or table name chosen by certbus) for the rare
    /// statements that cannot take it as a parameter, such as LISTEN.
    public func quoteIdentifier(_ identifier: String) throws -> String {
        let conn = try requireHandle()
        let utf8 = Array(identifier.utf8)
        guard let quoted = PQescapeIdentifier(conn, identifier, utf8.count) else {
            throw PostgresError(kind: .server, message: "invalid identifier: \(Self.cleanMessage(PQerrorMessage(conn)))")
        }
        defer { PQfreemem(quoted) }
        return String(cString: quoted)
    }

    // MARK: - Transactions

    /// Runs `body` in a transaction: commits when it returns, rolls back when it throws.
    ///
    /// On a serialization failure or deadlock (SQLSTATE 40001 / 40P01) the whole
    /// transaction is retried, at most `maxAttempts` times, so `body` must not have
    /// effects outside the database. Inside an already open transaction, `body`
    /// runs in a savepoint instead and is not retried.
    public func withTransaction<T>(
        isolation: IsolationLevel = .readCommitted, maxAttempts: Int = 5, _ body: (Connection) throws -> T
    ) throws -> T {
        if isInTransaction { return try withSavepoint(body) }
        var attempt = 1
        while true {
            try execute(isolation == .readCommitted ? "BEGIN" : "BEGIN ISOLATION LEVEL \(isolation.rawValue)")
            do {
                let value = try body(self)
                if isTransactionFailed {
                    throw PostgresError(
                        kind: .server,
                        message: "the transaction failed earlier (an error was caught inside it); it was rolled back",
                        sqlState: "25P02")
                }
                try execute("COMMIT")
                return value
            } catch {
                if isOpen { _ = try? execute("ROLLBACK") }
                if let pgError = error as? PostgresError, pgError.isTransient, attempt < maxAttempts {
                    let backoff = min(0.2, 0.005 * Double(1 << attempt)) * Double.random(in: 0.5...1.5)
                    Thread.sleep(forTimeInterval: backoff)
                    attempt += 1
                    continue
                }
                throw error
            }
        }
    }

    /// Runs `body` in a savepoint of the open transaction: released when it returns,
    /// rolled back to (leaving the outer transaction usable) when it throws.
    public func withSavepoint<T>(_ body: (Connection) throws -> T) throws -> T {
        try execute("SAVEPOINT certbus_savepoint")
        do {
            let value = try body(self)
            try execute("RELEASE SAVEPOINT certbus_savepoint")
            return value
        } catch {
            if isOpen {
                _ = try? execute("ROLLBACK TO SAVEPOINT certbus_savepoint")
                _ = try? execute("RELEASE SAVEPOINT certbus_savepoint")
            }
            throw error
        }
    }

    // MARK: - LISTEN / NOTIFY

    /// Starts listening on a channel.
    public func listen(_ channel: String) throws {
        try execute("LISTEN \(quoteIdentifier(channel))")
    }

    /// Stops listening on a channel.
    public func unlisten(_ channel: String) throws {
        try execute("UNLISTEN \(quoteIdentifier(channel))")
    }

    /// Sends a notification (delivered when the current transaction commits).
    public func notify(_ channel: String, payload: String = "") throws {
        try execute("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// Returns notifications already received, reading whatever the socket has without blocking.
    public func pendingNotifications() throws -> [PostgresNotification] {
        let conn = try requireHandle()
        if PQconsumeInput(conn) == 0 {
            throw PostgresError(kind: .connection, message: Self.cleanMessage(PQerrorMessage(conn)))
        }
        return drain(conn)
    }

    private func drain(_ conn: OpaquePointer) -> [PostgresNotification] {
        var out: [PostgresNotification] = []
        while let notify = PQnotifies(conn) {
            let n = notify.pointee
            out.append(
                PostgresNotification(
                    channel: String(cString: n.relname), payload: n.extra.map { String(cString: $0) } ?? "",
                    senderPID: n.be_pid))
            PQfreemem(notify)
        }
        return out
    }

    /// Waits until a notification arrives, `timeout` seconds pass (nil: forever), or
    /// `wakeDescriptor` becomes readable, then returns what arrived (possibly nothing).
    /// Driven by poll(2) on the connection's socket: no busy polling.
    public func waitForNotifications(timeout: Double?, wakeDescriptor: Int32? = nil) throws -> [PostgresNotification] {
        let conn = try requireHandle()
        let buffered = drain(conn)
        if !buffered.isEmpty { return buffered }
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            var fds = [pollfd(fd: PQsocket(conn), events: Int16(POLLIN), revents: 0)]
            if let wakeDescriptor { fds.append(pollfd(fd: wakeDescriptor, events: Int16(POLLIN), revents: 0)) }
            var waitMs: Int32 = -1
            if let deadline {
                waitMs = Int32(max(0, min(Double(Int32.max), deadline.timeIntervalSinceNow * 1000).rounded(.up)))
            }
            let rc = poll(&fds, nfds_t(fds.count), waitMs)
            if rc < 0 {
                if errno == EINTR { continue }
                throw PostgresError(kind: .connection, message: "poll failed: \(String(cString: strerror(errno)))")
            }
            if rc == 0 { return [] }
            if fds[0].revents != 0 {
                if PQconsumeInput(conn) == 0 {
                    throw PostgresError(kind: .connection, message: Self.cleanMessage(PQerrorMessage(conn)))
                }
                let received = drain(conn)
                if !received.isEmpty { return received }
            }
            if fds.count > 1, fds[1].revents != 0 { return [] }
        }
    }
}
