import Foundation
import Postgres

/// Cluster-wide leadership for one name: at most one session in the whole
/// database holds it, through a session-level `pg_try_advisory_lock` on a
/// dedicated connection.
///
/// The lock lives exactly as long as that connection: when the leader process
/// dies or its connection breaks, PostgreSQL releases the lock and another
/// process takes over at its next `refresh()`. A leader learns that it lost the
/// lock when a statement on the connection fails (`refresh()` checks with
/// `SELECT 1`; work done through `whileLeading` fails by itself), so for at most
/// one refresh interval two processes may both believe they lead — periodic
/// tasks must be safe against that (see `PeriodicTask`).
///
/// The lock key is `hashtextextended('certbus.leadership:' || name, 0)`, so a DBA
/// can find the leader of `scheduler` with
/// `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND
/// ((classid::bigint << 32) | objid::bigint) = hashtextextended('certbus.leadership:scheduler', 0)`.
public final class Leadership: @unchecked Sendable {
    /// The leadership's name (`scheduler`, `job-maintenance`).
    public let name: String
    /// How the dedicated connection is opened.
    public let configuration: ConnectionConfiguration
    private let stateLock = NSLock()
    private let connectionLock = NSLock()
    private var connection: Connection?
    private var leading = false

    /// A leadership that is not held yet; call `refresh()` to try to take it.
    public init(name: String, configuration: ConnectionConfiguration) {
        self.name = name
        self.configuration = configuration
    }

    deinit { connection?.close() }

    /// The advisory-lock key for a leadership name, as computed by the database.
    public static let keyExpression = "hashtextextended('certbus.leadership:' || $1, 0)"

    /// True while this process believes it holds the leadership (as of the last
    /// `refresh()` or `whileLeading` call).
    public var isLeader: Bool {
        stateLock.lock()
        defer { stateLock.unlock() }
        return leading
    }

    private func setLeading(_ value: Bool) {
        stateLock.lock()
        leading = value
        stateLock.unlock()
    }

    /// Confirms the leadership if held (the connection still answers), or tries to
    /// take it. Returns `isLeader`. Never throws: an unreachable database simply
    /// means not leading.
    @discardableResult
    public func refresh() -> Bool {
        connectionLock.lock()
        defer { connectionLock.unlock() }
        do {
            let c = try openConnection()
            if isLeader {
                try c.execute("SELECT 1")
                return true
            }
            let got = try c.query("SELECT pg_try_advisory_lock(\(Self.keyExpression)) AS got", [name])[0]
                .decode("got", as: Bool.self)
            setLeading(got)
            return got
        } catch {
            dropConnection()
            return false
        }
    }

    /// Runs `body` on the connection that holds the lock when leading, and returns
    /// its value; returns nil without running it when not leading. Running on the
    /// lock's own connection means the work cannot outlive the leadership: if the
    /// connection broke, the body's statements fail. A connection-level error from
    /// `body` drops the leadership before it is rethrown.
    public func whileLeading<T>(_ body: (Connection) throws -> T) throws -> T? {
        connectionLock.lock()
        defer { connectionLock.unlock() }
        guard isLeader, let c = connection else { return nil }
        do {
            return try body(c)
        } catch let error as PostgresError where error.isConnectionLost || !c.isOpen {
            dropConnection()
            throw error
        }
    }

    /// Gives the leadership up (unlocks and closes the connection) so another
    /// process can take it at once.
    public func resign() {
        connectionLock.lock()
        defer { connectionLock.unlock() }
        if let c = connection, isLeader {
            _ = try? c.execute("SELECT pg_advisory_unlock(\(Self.keyExpression))", [name])
        }
        dropConnection()
    }

    private func openConnection() throws -> Connection {
        if let c = connection, c.isOpen { return c }
        dropConnection()
        let c = try Connection(configuration: configuration)
        connection = c
        return c
    }

    private func dropConnection() {
        connection?.close()
        connection = nil
        setLeading(false)
    }
}
