import CertbusCore
import Foundation
import Postgres

/// A job a worker claimed: the handler's view (`job`) plus the lease it holds.
/// `(job.id, job.attempt, workerId)` is the fence every later change is conditioned on.
public struct ClaimedJob: Sendable {
    /// The job as handlers see it.
    public var job: Job
    /// The worker that holds it.
    public var workerId: String
    /// When this attempt started (database clock).
    public var startedAt: Date
    /// When the lease runs out unless extended (database clock).
    public var leaseExpiresAt: Date

    /// A claimed job from its parts (tests, and workers that claim by other means).
    init(job: Job, workerId: String, startedAt: Date, leaseExpiresAt: Date) {
        self.job = job
        self.workerId = workerId
        self.startedAt = startedAt
        self.leaseExpiresAt = leaseExpiresAt
    }

    init(row: Row, workerId: String) throws {
        let payloadText = try row.text("payload") ?? "{}"
        job = Job(
            id: try row.decode("id", as: Int64.self), kind: JobKind(try row.decode("kind", as: String.self)),
            name: try row.decode("name", as: String.self), payload: Data(payloadText.utf8),
            attempt: try row.decode("attempt", as: Int.self), maxAttempts: try row.decode("max_attempts", as: Int.self),
            caId: try row.decode("ca_id", as: UUID?.self), certificateId: try row.decode("certificate_id", as: UUID?.self),
            triggeredBy: Actor(
                Actor.Kind(rawValue: try row.decode("triggered_by_type", as: String.self)) ?? .system,
                try row.decode("triggered_by_id", as: String.self)),
            queue: try row.decode("queue", as: String.self), priority: try row.decode("priority", as: Int.self))
        self.workerId = workerId
        startedAt = try row.decode("started_at", as: Date.self)
        leaseExpiresAt = try row.decode("lease_expires_at", as: Date.self)
    }
}

/// What happened to one attempt, for `JobQueue.finish`.
public struct AttemptResult: Sendable {
    /// The outcome of the attempt.
    public enum Outcome: Sendable {
        /// The handler succeeded: output (JSON text or nil), issued certificate, the CA's request id.
        case success(output: String?, issuedCertificateId: UUID?, caRequestId: String?)
        /// The handler failed. Permanent failures, and failures of the last allowed attempt, end the
        /// job FAILED; others requeue it `retryDelay` seconds from now (database clock).
        case failure(message: String, isPermanent: Bool, retryDelay: Double)
    }

    public var jobId: Int64
    /// The attempt number that was claimed (part of the fence).
    public var attempt: Int
    public var outcome: Outcome

    public init(jobId: Int64, attempt: Int, outcome: Outcome) {
        self.jobId = jobId
        self.attempt = attempt
        self.outcome = outcome
    }

    /// The success outcome of a handler's `JobCompletion` (its commit closure is not part of it).
    public static func success(_ claimed: ClaimedJob, _ completion: JobCompletion) -> AttemptResult {
        AttemptResult(
            jobId: claimed.job.id, attempt: claimed.job.attempt,
            outcome: .success(
                output: completion.output, issuedCertificateId: completion.issuedCertificateId,
                caRequestId: completion.caRequestId))
    }

    /// The failure outcome of a handler's `JobFailure` with the given retry delay.
    public static func failure(_ claimed: ClaimedJob, _ failure: JobFailure, retryDelay: Double) -> AttemptResult {
        AttemptResult(
            jobId: claimed.job.id, attempt: claimed.job.attempt,
            outcome: .failure(message: failure.message, isPermanent: failure.isPermanent, retryDelay: retryDelay))
    }
}

/// A running job whose lease a worker extends.
public struct HeldJob: Sendable, Hashable {
    public var jobId: Int64
    public var attempt: Int
    /// The kind's maximum run time in seconds: the lease never extends past `started_at` plus this.
    public var maximumRunTime: Double

    public init(jobId: Int64, attempt: Int, maximumRunTime: Double) {
        self.jobId = jobId
        self.attempt = attempt
        self.maximumRunTime = maximumRunTime
    }
}

/// The answer to a heartbeat, per job: still held (and whether cancel was requested), or lost.
public struct HeartbeatResult: Sendable, Equatable {
    /// Jobs whose lease was extended and is still in the future.
    public var held: Set<Int64> = []
    /// Held jobs an operator asked to cancel.
    public var cancelRequested: Set<Int64> = []
    /// Jobs this worker no longer holds: rescued, finished elsewhere, or past their kind's maximum run time.
    public var lost: Set<Int64> = []
}
