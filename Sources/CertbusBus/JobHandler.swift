import CertbusCore
import Foundation
import Postgres

/// A claimed job as a handler sees it.
public struct Job: Sendable {
    public var id: Int64
    public var kind: JobKind
    /// Human-readable name, e.g. "Issue www.example.com".
    public var name: String
    /// The input payload, JSON (validated per kind at enqueue time).
    public var payload: Data
    /// Which attempt this is, starting at 1.
    public var attempt: Int
    public var maxAttempts: Int
    public var caId: UUID?
    public var certificateId: UUID?
    public var triggeredBy: Actor
    public var queue: String
    public var priority: Int

    public init(
        id: Int64, kind: JobKind, name: String, payload: Data, attempt: Int, maxAttempts: Int, caId: UUID? = nil,
        certificateId: UUID? = nil, triggeredBy: Actor, queue: String = "default", priority: Int = 100
    ) {
        self.id = id
        self.kind = kind
        self.name = name
        self.payload = payload
        self.attempt = attempt
        self.maxAttempts = maxAttempts
        self.caId = caId
        self.certificateId = certificateId
        self.triggeredBy = triggeredBy
        self.queue = queue
        self.priority = priority
    }

    /// Decodes the payload as `T`, or throws a permanent `JobFailure` naming the problem.
    public func decodePayload<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: payload)
        } catch {
            throw JobFailure.permanent("invalid \(kind) payload: \(error)")
        }
    }
}

/// What a successful attempt produced. `commit` runs inside the transaction that
/// marks the job SUCCESS, so the handler's database effects (the issued
/// certificate, its audit rows and events) commit together with the job or not
/// at all.
public struct JobCompletion: Sendable {
    /// A short JSON document shown as the job's output.
    public var output: String?
    /// The certificate this job issued, shown on the job.
    public var issuedCertificateId: UUID?
    /// The CA's own id for the request (ACME order URL, built-in CA serial).
    public var caRequestId: String?
    /// Database effects to commit with the job's SUCCESS.
    public var commit: (@Sendable (Connection) throws -> Void)?

    public init(
        output: String? = nil, issuedCertificateId: UUID? = nil, caRequestId: String? = nil,
        commit: (@Sendable (Connection) throws -> Void)? = nil
    ) {
        self.output = output
        self.issuedCertificateId = issuedCertificateId
        self.caRequestId = caRequestId
        self.commit = commit
    }

    /// Success with nothing to record.
    public static let done = JobCompletion()
}

/// A failed attempt. Retryable failures are tried again with backoff until
/// the job's `maxAttempts`; permanent ones (a malformed CSR, a name outside
/// the profile) end the job FAILED at once.
public struct JobFailure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var isPermanent: Bool
    /// Database effects to commit with the failure (e.g. an audit row, an event, an automation status).
    public var commit: (@Sendable (Connection) throws -> Void)?

    public init(message: String, isPermanent: Bool, commit: (@Sendable (Connection) throws -> Void)? = nil) {
        self.message = message
        self.isPermanent = isPermanent
        self.commit = commit
    }

    /// A failure that retrying cannot fix.
    public static func permanent(_ message: String, commit: (@Sendable (Connection) throws -> Void)? = nil) -> JobFailure {
        JobFailure(message: message, isPermanent: true, commit: commit)
    }

    /// A failure that may pass (CA unreachable, timeout).
    public static func retryable(_ message: String, commit: (@Sendable (Connection) throws -> Void)? = nil) -> JobFailure {
        JobFailure(message: message, isPermanent: false, commit: commit)
    }

    public var description: String { message }
}

/// Runs jobs of one kind. Handlers are registered with the worker by kind.
///
/// `run` is called on a worker thread (never the cooperative pool) outside any
/// transaction, so slow work with the outside world (a CA, a web server) holds
/// no locks. Throw `JobFailure` to fail; any other error counts as retryable.
public protocol JobHandler: Sendable {
    /// The kind this handler runs.
    var kind: JobKind { get }
    /// Seconds an attempt may run before it is abandoned (its lease is then not renewed).
    var maximumRunTime: Double { get }
    /// Runs one attempt.
    func run(_ job: Job, context: JobContext) throws -> JobCompletion
}

extension JobHandler {
    public var maximumRunTime: Double { 300 }
}

/// What a running handler may use: the database, and a way to say it is still alive.
public final class JobContext: @unchecked Sendable {
    /// Connections for reads and preparatory writes (autocommit, outside the completing transaction).
    public let database: ConnectionPool
    /// The worker running the job (`host:pid:n`).
    public let workerId: String
    private let heartbeatAction: @Sendable () throws -> Void
    private let cancelled: @Sendable () -> Bool

    public init(
        database: ConnectionPool, workerId: String, heartbeat: @escaping @Sendable () throws -> Void = {},
        isCancelled: @escaping @Sendable () -> Bool = { false }
    ) {
        self.database = database
        self.workerId = workerId
        self.heartbeatAction = heartbeat
        self.cancelled = isCancelled
    }

    /// Extends the job's lease now (the worker also extends it on a timer while the handler runs).
    public func heartbeat() throws { try heartbeatAction() }

    /// True when the job was cancelled or the worker is shutting down past its grace period;
    /// long handlers should check it and stop early.
    public var isCancelled: Bool { cancelled() }
}
