/// A long-running part of certbus (a worker, the scheduler, the event
/// dispatcher, the audit sealer) that `certbus serve` can run next to the
/// others in one process, or a dedicated command can run alone.
///
/// Contract:
/// - `start()` returns once the service is running on its own threads (it never
///   blocks the caller for the service's lifetime); it throws when the service
///   cannot start at all (bad configuration). Losing the database later is not a
///   start failure: services reconnect on their own.
/// - `stop(grace:)` stops taking new work, lets work in progress finish for up to
///   `grace` seconds, hands back what did not finish, and returns when the
///   service's threads are done with the database. Calling it twice is harmless.
public protocol CertbusService: AnyObject, Sendable {
    /// A short name for logs and `pg_stat_activity` (`worker`, `scheduler`, ...).
    var name: String { get }
    /// Starts the service's threads and returns.
    func start() throws
    /// Stops the service within about `grace` seconds; see the protocol's contract.
    func stop(grace: Double)
}
