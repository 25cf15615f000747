import CertbusCore
import Foundation
import Postgres

/// A handler that can also run many claimed jobs of its kind together — typically with one
/// transaction that records all of their effects and outcomes — for kinds that arrive in bulk
/// (ISSUE_CERT). A `Worker` hands it the claimed jobs of its kind, up to `maximumBatchSize` at
/// a time, as one unit of work on one executor thread.
///
/// What the worker relies on:
/// - every job the batch *finishes* is finished fenced on its claim (status RUNNING, this worker,
///   the claimed attempt), in the same transaction as its effects — `JobQueue.finish` does that —
///   and is reported in `succeeded`, `failed` or (when the fence refused it) `discarded`;
/// - every job the batch does not want to finish itself is returned in `deferred`: the worker then
///   runs it alone through `run`, like a job of any other kind;
/// - a thrown error means nothing was finished: the worker records a retryable failure for every
///   job of the batch (fenced as usual), so none is left RUNNING until its lease expires.
public protocol BatchJobHandler: JobHandler {
    /// The most jobs handed to one `runBatch`.
    var maximumBatchSize: Int { get }
    /// Runs `jobs` (all of this handler's kind, claimed by `context.workerId`) together.
    func runBatch(_ jobs: [ClaimedJob], context: JobBatchContext) throws -> JobBatchOutcome
}

/// What a batch may use: the database, the worker's id and its retry schedule.
public struct JobBatchContext: Sendable {
    /// Connections for the batch's statements and transactions.
    public let database: ConnectionPool
    /// The worker that claimed the jobs (the fence).
    public let workerId: String
    /// Delay before a failed attempt is retried.
    public let backoff: Backoff

    /// A context for a batch of `workerId` using `database`.
    public init(database: ConnectionPool, workerId: String, backoff: Backoff = Backoff()) {
        self.database = database
        self.workerId = workerId
        self.backoff = backoff
    }
}

/// What a batch did with its jobs (every job it was given appears in exactly one list).
public struct JobBatchOutcome: Sendable, Equatable {
    /// Jobs it finished SUCCESS.
    public var succeeded: [Int64] = []
    /// Jobs it finished with a failure (retried later, or FAILED for good).
    public var failed: [Int64] = []
    /// Of `failed`, those whose failure was permanent (the job ended FAILED because of what it asked for).
    public var permanent: Set<Int64> = []
    /// Jobs whose outcome the fence refused (rescued or handed back meanwhile): nothing of theirs was recorded.
    public var discarded: [Int64] = []
    /// Jobs left for the one-by-one path (`run`), still RUNNING for this worker.
    public var deferred: [ClaimedJob] = []

    /// An empty outcome.
    public init() {}

    /// Ids of the jobs the batch finished or that were refused: no longer this worker's.
    public var settled: [Int64] { succeeded + failed + discarded }

    public static func == (a: JobBatchOutcome, b: JobBatchOutcome) -> Bool {
        a.succeeded == b.succeeded && a.failed == b.failed && a.discarded == b.discarded
            && a.deferred.map(\.job.id) == b.deferred.map(\.job.id)
    }
}
