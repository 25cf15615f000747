import CertbusCore
import Foundation

/// How a `Worker` runs. The defaults suit production; tests shorten the intervals.
public struct WorkerOptions: Sendable {
    /// Jobs run at the same time (one thread each).
    public var concurrency: Int = 10
    /// Queues served.
    public var queues: [String] = ["default"]
    /// Kinds served; nil serves every kind that has a handler. Kinds without a handler are never claimed.
    public var kinds: [JobKind]? = nil
    /// Seconds a claim or heartbeat extends a job's lease (database clock).
    public var leaseSeconds: Double = 30
    /// Seconds between heartbeats of running jobs; a third of the lease when nil.
    public var heartbeatInterval: Double? = nil
    /// Seconds an idle worker waits for a notification before it looks for work anyway
    /// (also the delay after which a job scheduled with `run_at` is noticed at the latest).
    public var pollInterval: Double = 2
    /// Most jobs claimed by one statement (a claim asks for at most the free capacity).
    public var maximumClaimBatch: Int = 500
    /// Delay before retrying a failed attempt.
    public var backoff: Backoff = Backoff()
    /// Run the queue's maintenance (rescuer, retention) under the `job-maintenance` leadership.
    public var runsMaintenance: Bool = true
    /// The rescuer's interval and the retention policy (when `runsMaintenance`).
    public var rescueInterval: Double = 5
    public var retention: JobRetentionPolicy = JobRetentionPolicy()
    /// Seconds between leadership attempts of the maintenance scheduler.
    public var maintenanceLeadershipInterval: Double = 5
    /// Worker id prefix; `host:pid:n` when nil.
    public var name: String? = nil

    public init() {}

    /// The heartbeat interval actually used.
    public var effectiveHeartbeatInterval: Double { heartbeatInterval ?? max(0.05, leaseSeconds / 3) }
}

/// Counters of what a worker did since it started.
public struct WorkerStatistics: Sendable, Equatable {
    /// Jobs claimed.
    public var claimed = 0
    /// Attempts that ended SUCCESS.
    public var succeeded = 0
    /// Attempts that failed (retried, failed for good or cancelled).
    public var failed = 0
    /// Results refused by the fence (the job had been rescued or handed back meanwhile).
    public var discarded = 0
    /// Jobs given back at shutdown without counting the attempt.
    public var handedBack = 0
    /// Claim statements run.
    public var claims = 0
    /// Completion statements (batched) run.
    public var flushes = 0
}
