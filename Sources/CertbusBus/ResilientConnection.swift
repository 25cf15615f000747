import Foundation
import Postgres

/// A dedicated connection that reopens itself: `use` connects when needed, and after a
/// connection-level failure closes the session so the next `use` starts afresh.
/// One thread at a time.
final class ResilientConnection: @unchecked Sendable {
    let configuration: ConnectionConfiguration
    /// Statements run on every new session (trusted constants only, e.g. `SET synchronous_commit TO off`).
    let setup: [String]
    private var connection: Connection?
    private var delay = 0.05

    init(configuration: ConnectionConfiguration, setup: [String] = []) {
        self.configuration = configuration
        self.setup = setup
    }

    /// Runs `body` on the connection, opening it first if needed.
    func use<T>(_ body: (Connection) throws -> T) throws -> T {
        do {
            let c: Connection
            if let existing = connection, existing.isOpen {
                c = existing
            } else {
                connection?.close()
                connection = nil
                c = try Connection(configuration: configuration)
                for statement in setup { try c.execute(statement) }
                connection = c
            }
            let value = try body(c)
            delay = 0.05
            return value
        } catch let error as PostgresError where error.isConnectionLost || connection?.isOpen == false {
            connection?.close()
            connection = nil
            throw error
        }
    }

    /// How long to wait before trying again after a failure (grows to 2 s, with jitter).
    func nextRetryDelay() -> Double {
        defer { delay = min(delay * 2, 2) }
        return delay * Double.random(in: 0.8...1.2)
    }

    func close() {
        connection?.close()
        connection = nil
    }
}

/// A flag one thread sets and others read (cancel requests, lost leases).
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
}
