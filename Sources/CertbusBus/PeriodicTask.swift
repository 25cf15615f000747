import Postgres

/// Maintenance work that must run regularly somewhere in the cluster, but in
/// one process at a time: the job rescuer, retention cleanup, the audit sealer,
/// expiry scans, renewal scheduling. A `Scheduler` runs its tasks only while it
/// holds its leadership, one task at a time, each every `interval` seconds.
///
/// Tasks should still be safe if two processes ran them at the same moment
/// (leadership can change hands between two runs): claim rows with
/// `FOR UPDATE SKIP LOCKED` or make each change idempotent.
public protocol PeriodicTask: Sendable {
    /// A short unique name for logs (`job-rescuer`, `audit-sealer`).
    var name: String { get }
    /// Seconds between the end of one run and the start of the next.
    var interval: Double { get }
    /// Does one round of work on `connection` (autocommit; open a transaction
    /// with `withTransaction` as needed) and returns a one-line summary for the log,
    /// e.g. "requeued 3 jobs, failed 1". Throwing logs the error; the task runs
    /// again after its interval.
    func run(_ connection: Connection) throws -> String
}
