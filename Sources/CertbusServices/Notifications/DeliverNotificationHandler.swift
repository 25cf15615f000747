import CertbusBus
import CertbusCore
import CertbusHTTP
import Foundation
import PKI
import Postgres

/// DELIVER_NOTIFICATION: POSTs one event to a WEBHOOK notification profile.
///
/// The body is JSON (`WebhookBody`); when the profile has a secret, `X-Certbus-Timestamp` and
/// `X-Certbus-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>` are added (see
/// `WebhookSignature`). The profile's timeout bounds each attempt. A 2xx answer is success; no answer, a
/// timeout, 408, 425, 429 or 5xx are retried by the job queue with backoff up to the profile's `max_attempts`;
/// other 4xx answers end the job at once (the receiver refuses it). Every attempt writes a row to
/// `certbus.notification_deliveries`, committed with the job's outcome.
public struct DeliverNotificationHandler: JobHandler {
    public var kind: JobKind { .deliverNotification }
    public var maximumRunTime: Double { 180 }
    /// Opens profiles' signing secrets; nil when no key-encryption key is configured.
    let keyEncryptionKey: KeyEncryptionKey?
    /// The trust store for https:// webhooks.
    let trust: TLSTrust

    public init(keyEncryptionKey: KeyEncryptionKey?, trust: TLSTrust = .systemDefault) {
        self.keyEncryptionKey = keyEncryptionKey
        self.trust = trust
    }

    public func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        let request = try job.decodePayload(DeliverNotificationPayload.self)
        let loaded = try context.database.withConnection { c -> (NotificationProfile, WebhookBody, Data?)? in
            let profile: NotificationProfile
            do {
                profile = try NotificationProfiles.find(on: c, request.profileId.uuidString)
            } catch is NotificationProfileError {
                return nil
            }
            let event = try EventQueries.find(on: c, id: request.eventId)
            let trigger = try request.triggerId.flatMap {
                try c.query("SELECT name FROM certbus.event_triggers WHERE id = $1", [$0]).firstRow?.decode("name", as: String.self)
            }
            let secret = profile.enabled
                ? try NotificationProfiles.signingSecret(on: c, profileId: profile.id, keyEncryptionKey: keyEncryptionKey) : nil
            return (profile, WebhookBody(event: event, profile: profile.name, trigger: trigger, attempt: job.attempt), secret)
        }
        guard let (profile, body, secret) = loaded else {
            throw JobFailure.permanent("notification profile \(request.profileId.uuidString.lowercased()) no longer exists")
        }
        guard profile.enabled else {
            return JobCompletion(output: #"{"skipped": "profile disabled"}"#)
        }
        guard profile.kind == .webhook, let urlText = profile.url, let url = URL(string: urlText) else {
            throw JobFailure.permanent("notification profile \(profile.name) is not a webhook")
        }
        let bodyData = try body.encoded()
        var headers = HTTPHeaders()
        headers.set("Content-Type", "application/json")
        headers.set("X-Certbus-Event", body.type)
        headers.set("X-Certbus-Event-Id", String(body.id))
        headers.set("X-Certbus-Delivery", "\(job.id).\(job.attempt)")
        if let secret {
            let timestamp = Int64(Date().timeIntervalSince1970)
            headers.set(WebhookSignature.timestampHeader, String(timestamp))
            headers.set(WebhookSignature.signatureHeader, WebhookSignature.sign(body: bodyData, timestamp: timestamp, secret: secret))
        }
        let timeout = Duration.milliseconds(Int64(profile.timeoutSeconds * 1000))
        let client = HTTPClient(configuration: HTTPClient.Configuration(
            trust: trust, connectTimeout: min(timeout, .seconds(10)), requestTimeout: timeout,
            maxResponseBodyBytes: 64 << 10, userAgent: "certbus-webhook"))
        let started = Date()
        let outcome: DeliveryOutcome
        do {
            let response = try client.sendBlocking(HTTPClientRequest(method: .post, url: url, headers: headers, body: bodyData))
            if response.isSuccess {
                outcome = .delivered(status: response.status)
            } else {
                let permanent = (400..<500).contains(response.status) && ![408, 425, 429].contains(response.status)
                outcome = .failed(status: response.status, error: "receiver answered \(response.status) \(response.reason)",
                                  permanent: permanent)
            }
        } catch {
            outcome = .failed(status: nil, error: error.description, permanent: false)
        }
        let durationMs = Int((Date().timeIntervalSince(started) * 1000).rounded())
        let log = DeliveryLogRow(profileId: profile.id, eventId: request.eventId, triggerId: request.triggerId,
                                 jobId: job.id, attempt: job.attempt, durationMs: durationMs)
        switch outcome {
        case .delivered(let status):
            return JobCompletion(
                output: #"{"http_status": \#(status), "duration_ms": \#(durationMs)}"#,
                commit: { c in try log.insert(on: c, status: "DELIVERED", willRetry: false, httpStatus: status, error: nil) })
        case .failed(let status, let error, let permanent):
            let willRetry = !permanent && job.attempt < job.maxAttempts
            let commit: @Sendable (Connection) throws -> Void = { c in
                try log.insert(on: c, status: "FAILED", willRetry: willRetry, httpStatus: status, error: error)
            }
            let message = "webhook \(profile.name) (\(NotificationProfiles.redacted(urlText))): \(error)"
            throw permanent ? JobFailure.permanent(message, commit: commit) : JobFailure.retryable(message, commit: commit)
        }
    }

    enum DeliveryOutcome {
        case delivered(status: Int)
        case failed(status: Int?, error: String, permanent: Bool)
    }
}

/// One row of the delivery log, written with the job's outcome.
struct DeliveryLogRow: Sendable {
    var profileId: UUID
    var eventId: Int64
    var triggerId: UUID?
    var jobId: Int64
    var attempt: Int
    var durationMs: Int

    func insert(on c: Connection, status: String, willRetry: Bool, httpStatus: Int?, error: String?) throws {
        try c.execute(
            """
            INSERT INTO certbus.notification_deliveries
              (profile_id, event_id, trigger_id, job_id, attempt, status, will_retry, http_status, error, duration_ms)
            SELECT $1, e.id, t.id, $4, $5, $6, $7, $8, $9, $10
              FROM (SELECT 1) one
              LEFT JOIN certbus.events e ON e.id = $2
              LEFT JOIN certbus.event_triggers t ON t.id = $3
            """,
            [profileId, eventId, triggerId, jobId, attempt, status, willRetry, httpStatus, error, durationMs])
    }
}

/// The JSON body of a webhook delivery.
public struct WebhookBody: Encodable, Sendable {
    /// The event id (receivers use it to ignore duplicates: a delivery may arrive more than once).
    public var id: Int64
    public var type: String
    public var resource: String
    public var resourceId: String
    public var createdAt: Date
    /// The event payload as stored.
    public var payload: PayloadValue
    public var profile: String
    public var trigger: String?
    public var attempt: Int

    init(event: EventRecord, profile: String, trigger: String?, attempt: Int) {
        id = event.id
        type = event.type.rawValue
        resource = event.resource.rawValue
        resourceId = event.resourceId
        createdAt = event.createdAt
        payload = event.payload
        self.profile = profile
        self.trigger = trigger
        self.attempt = attempt
    }

    enum CodingKeys: String, CodingKey {
        case id, type, resource, resourceId = "resource_id", createdAt = "created_at", payload, profile, trigger, attempt
    }

    func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        return try encoder.encode(self)
    }
}
