import CertbusCore
import Foundation
import Postgres

/// A job to enqueue. Only `kind` is required; everything else has the same
/// defaults as `certbus.enqueue_job(...)`.
public struct NewJob: Sendable {
    /// What the job does (must be a row of `certbus.job_kinds`).
    public var kind: JobKind
    /// The input payload, a JSON object (checked against the kind's rules by the database).
    public var payload: PostgresJSON
    /// Human-readable name; the kind when nil.
    public var name: String?
    /// Lower runs first, 0...1000 (default 100).
    public var priority: Int
    /// Not claimed before this time; now when nil.
    public var runAt: Date?
    /// At most one QUEUED or RUNNING job per kind and unique key.
    public var uniqueKey: String?
    /// Attempts allowed; the kind's default when nil.
    public var maxAttempts: Int?
    /// Queue name (default `default`).
    public var queue: String
    /// Who caused the job.
    public var triggeredBy: Actor
    /// The CA and certificate the job is about (also taken from the payload's `ca_id` / `certificate_id`).
    public var caId: UUID?
    public var certificateId: UUID?

    /// A job with a payload given as JSON text.
    public init(
        kind: JobKind, payloadJSON: String = "{}", name: String? = nil, priority: Int = 100, runAt: Date? = nil,
        uniqueKey: String? = nil, maxAttempts: Int? = nil, queue: String = "default",
        triggeredBy: Actor = .system("certbus"), caId: UUID? = nil, certificateId: UUID? = nil
    ) {
        self.kind = kind
        self.payload = PostgresJSON(text: payloadJSON)
        self.name = name
        self.priority = priority
        self.runAt = runAt
        self.uniqueKey = uniqueKey
        self.maxAttempts = maxAttempts
        self.queue = queue
        self.triggeredBy = triggeredBy
        self.caId = caId
        self.certificateId = certificateId
    }

    /// A job whose payload is an `Encodable` value (encoded with sorted keys, ISO 8601 dates).
    public init<Payload: Encodable>(
        kind: JobKind, payload: Payload, name: String? = nil, priority: Int = 100, runAt: Date? = nil,
        uniqueKey: String? = nil, maxAttempts: Int? = nil, queue: String = "default",
        triggeredBy: Actor = .system("certbus"), caId: UUID? = nil, certificateId: UUID? = nil
    ) throws {
        self.init(
            kind: kind, payloadJSON: try PostgresJSON(encoding: payload).text, name: name, priority: priority,
            runAt: runAt, uniqueKey: uniqueKey, maxAttempts: maxAttempts, queue: queue, triggeredBy: triggeredBy,
            caId: caId, certificateId: certificateId)
    }
}
