import CertbusCore
import Foundation
import Postgres

/// Everything certbus knows about one job — what the Failed Job and Successful Job views
/// show — as stored in `certbus.jobs`.
public struct JobRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var kind: JobKind
    public var status: JobStatus
    public var queue: String
    public var priority: Int
    public var caId: UUID?
    public var certificateId: UUID?
    /// Scheduled: not run before this time.
    public var runAt: Date
    public var createdAt: Date
    public var startedAt: Date?
    public var completedAt: Date?
    /// `completedAt - startedAt` in seconds (the final attempt's execution time).
    public var durationSeconds: Double?
    public var triggeredBy: Actor
    /// The input payload, JSON text.
    public var payload: String
    /// The output (completion metadata), JSON text.
    public var output: String?
    /// The last error message.
    public var error: String?
    public var issuedCertificateId: UUID?
    public var caRequestId: String?
    public var attempt: Int
    public var maxAttempts: Int
    public var uniqueKey: String?
    public var lockedBy: String?
    public var leaseExpiresAt: Date?
    public var cancelRequestedAt: Date?

    static let columns = """
        id, name, kind, status, queue, priority, ca_id, certificate_id, run_at, created_at, started_at, completed_at,
        extract(epoch FROM duration)::float8 AS duration_seconds, triggered_by_type, triggered_by_id, payload, output,
        error, issued_certificate_id, ca_request_id, attempt, max_attempts, unique_key, locked_by, lease_expires_at,
        cancel_requested_at
        """

    init(row: Row) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        kind = JobKind(try row.decode("kind", as: String.self))
        let statusText = try row.decode("status", as: String.self)
        guard let status = JobStatus(rawValue: statusText) else {
            throw PostgresError(kind: .decoding, message: "unknown job status \(statusText)")
        }
        self.status = status
        queue = try row.decode("queue")
        priority = try row.decode("priority")
        caId = try row.decode("ca_id")
        certificateId = try row.decode("certificate_id")
        runAt = try row.decode("run_at")
        createdAt = try row.decode("created_at")
        startedAt = try row.decode("started_at")
        completedAt = try row.decode("completed_at")
        durationSeconds = try row.decode("duration_seconds")
        triggeredBy = Actor(
            Actor.Kind(rawValue: try row.decode("triggered_by_type", as: String.self)) ?? .system,
            try row.decode("triggered_by_id"))
        payload = try row.decode("payload")
        output = try row.decode("output")
        error = try row.decode("error")
        issuedCertificateId = try row.decode("issued_certificate_id")
        caRequestId = try row.decode("ca_request_id")
        attempt = try row.decode("attempt")
        maxAttempts = try row.decode("max_attempts")
        uniqueKey = try row.decode("unique_key")
        lockedBy = try row.decode("locked_by")
        leaseExpiresAt = try row.decode("lease_expires_at")
        cancelRequestedAt = try row.decode("cancel_requested_at")
    }
}

/// One finished attempt of a job (`certbus.job_attempts`).
public struct JobAttemptRecord: Sendable, Equatable {
    /// Attempt outcomes as stored.
    public enum Outcome: String, Sendable {
        case success = "SUCCESS"
        case retry = "RETRY"
        case failed = "FAILED"
        case cancelled = "CANCELLED"
        case leaseExpired = "LEASE_EXPIRED"
    }

    public var jobId: Int64
    public var attempt: Int
    public var workerId: String
    public var startedAt: Date
    public var finishedAt: Date
    public var durationSeconds: Double
    public var outcome: Outcome
    public var error: String?

    init(row: Row) throws {
        jobId = try row.decode("job_id")
        attempt = try row.decode("attempt")
        workerId = try row.decode("worker_id")
        startedAt = try row.decode("started_at")
        finishedAt = try row.decode("finished_at")
        durationSeconds = try row.decode("duration_seconds")
        let text = try row.decode("outcome", as: String.self)
        guard let outcome = Outcome(rawValue: text) else {
            throw PostgresError(kind: .decoding, message: "unknown attempt outcome \(text)")
        }
        self.outcome = outcome
        error = try row.decode("error")
    }
}

/// Which jobs `JobQueue.list` returns.
public struct JobFilter: Sendable, Equatable {
    /// Only these statuses (all when empty).
    public var statuses: [JobStatus] = []
    /// Only these kinds (all when empty).
    public var kinds: [JobKind] = []
    /// Only jobs created at or after this time.
    public var since: Date?
    /// Only this queue.
    public var queue: String?
    /// At most this many, newest first.
    public var limit: Int = 100

    public init(statuses: [JobStatus] = [], kinds: [JobKind] = [], since: Date? = nil, queue: String? = nil, limit: Int = 100) {
        self.statuses = statuses
        self.kinds = kinds
        self.since = since
        self.queue = queue
        self.limit = limit
    }
}

/// The outcome of an operator's cancel.
public enum CancelOutcome: String, Sendable {
    /// The job was QUEUED and is now CANCELLED.
    case cancelled = "CANCELLED"
    /// The job is RUNNING; its worker was asked to stop and will end it CANCELLED.
    case cancelRequested = "CANCEL_REQUESTED"
}
