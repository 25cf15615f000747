import Foundation

/// A bounded set of connections shared by the threads and tasks of one process.
///
/// `withConnection` borrows a connection, waiting at most `acquireTimeout`
/// seconds when all `maximumConnections` are in use (then it throws a
/// `.poolTimeout` error saying so). Broken connections are dropped on return,
/// and new ones are opened with exponential backoff while the server is
/// unreachable (a restart, say), until the same timeout.
public final class ConnectionPool: @unchecked Sendable {
    /// What new connections are opened with.
    public let configuration: ConnectionConfiguration
    /// The most connections this pool opens at once.
    public let maximumConnections: Int
    /// Seconds to wait for a free connection or for the server to come back.
    public let acquireTimeout: Double

    private let condition = NSCondition()
    private var idle: [Connection] = []
    private var openCount = 0
    private var isClosed = false

    public init(configuration: ConnectionConfiguration, maximumConnections: Int = 10, acquireTimeout: Double = 10) {
        precondition(maximumConnections > 0, "a pool needs at least one connection")
        self.configuration = configuration
        self.maximumConnections = maximumConnections
        self.acquireTimeout = acquireTimeout
    }

    deinit { close() }

    /// Connections currently open (idle or borrowed).
    public var openConnections: Int {
        condition.lock()
        defer { condition.unlock() }
        return openCount
    }

    /// Borrows a connection; give it back with `release(_:)`. Prefer `withConnection`.
    public func acquire() throws -> Connection {
        let deadline = Date().addingTimeInterval(acquireTimeout)
        condition.lock()
        while true {
            if isClosed {
                condition.unlock()
                throw PostgresError(kind: .closed, message: "the connection pool was closed")
            }
            if let connection = idle.popLast() {
                condition.unlock()
                if connection.isOpen { return connection }
                connection.close()
                condition.lock()
                openCount -= 1
                continue
            }
            if openCount < maximumConnections {
                openCount += 1
                condition.unlock()
                do {
                    return try connectWithBackoff(until: deadline)
                } catch {
                    condition.lock()
                    openCount -= 1
                    condition.signal()
                    condition.unlock()
                    throw error
                }
            }
            if !condition.wait(until: deadline) {
                condition.unlock()
                throw PostgresError(
                    kind: .poolTimeout,
                    message:
                        "no database connection became free within \(acquireTimeout)s (all \(maximumConnections) in use); raise the pool size or look for long transactions"
                )
            }
        }
    }

    private func connectWithBackoff(until deadline: Date) throws -> Connection {
        var delay = 0.05
        while true {
            do {
                return try Connection(configuration: configuration)
            } catch let error as PostgresError where error.kind == .connection {
                if Date().addingTimeInterval(delay) >= deadline { throw error }
                Thread.sleep(forTimeInterval: delay * Double.random(in: 0.8...1.2))
                delay = min(delay * 2, 2)
            }
        }
    }

    /// Returns a borrowed connection. A broken one, or one left inside a transaction, is discarded.
    public func release(_ connection: Connection) {
        var keep = connection.isOpen
        if keep && connection.isInTransaction {
            keep = (try? connection.execute("ROLLBACK")) != nil
        }
        condition.lock()
        if keep && !isClosed {
            idle.append(connection)
        } else {
            openCount -= 1
            connection.close()
        }
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` with a borrowed connection on the calling thread (which blocks).
    public func withConnection<T>(_ body: (Connection) throws -> T) throws -> T {
        let connection = try acquire()
        defer { release(connection) }
        return try body(connection)
    }

    /// Runs `body` in a transaction on a borrowed connection, on the calling thread.
    public func withTransaction<T>(isolation: IsolationLevel = .readCommitted, _ body: (Connection) throws -> T) throws -> T {
        try withConnection { try $0.withTransaction(isolation: isolation, body) }
    }

    /// Runs `body` with a borrowed connection on a dedicated thread — never on the
    /// cooperative pool — and resumes the caller with its result.
    public func withConnection<T: Sendable>(_ body: @escaping @Sendable (Connection) throws -> T) async throws -> T {
        try await BlockingExecutor.shared.run { try self.withConnection(body) }
    }

    /// Runs `body` in a transaction on a dedicated thread and resumes the caller with its result.
    public func withTransaction<T: Sendable>(
        isolation: IsolationLevel = .readCommitted, _ body: @escaping @Sendable (Connection) throws -> T
    ) async throws -> T {
        try await BlockingExecutor.shared.run { try self.withTransaction(isolation: isolation, body) }
    }

    /// Closes idle connections and refuses new borrowers. Borrowed ones close when returned.
    public func close() {
        condition.lock()
        isClosed = true
        let toClose = idle
        idle.removeAll()
        openCount -= toClose.count
        condition.broadcast()
        condition.unlock()
        toClose.forEach { $0.close() }
    }
}
