import CertbusCore
import Foundation
import Postgres

/// Why a trigger run failed. Permanent failures (a trigger that names a missing notification profile, a
/// condition that does not parse) are not retried; others are retried with backoff.
public struct TriggerRunFailure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var isPermanent: Bool
    public init(_ message: String, permanent: Bool) {
        self.message = message
        self.isPermanent = permanent
    }
    public var description: String { message }
}

/// Runs the actions of one trigger for one event, on the dispatcher's transaction (inside a savepoint
/// the caller opens): all actions of the run commit together or not at all.
struct TriggerActionRunner {
    /// Who enqueues jobs (`triggered_by_id` of jobs this dispatcher enqueues).
    var actorId: String

    /// Runs the actions in order; returns one result object per action (for `event_trigger_runs.result`).
    func run(_ actions: [TriggerAction], event: EventRecord, trigger: EventTrigger, payload: PayloadValue,
             on tx: Connection) throws -> [PayloadValue] {
        try actions.enumerated().map { index, action in
            switch action {
            case .notify(let profileId):
                return try notify(profileId: profileId, event: event, trigger: trigger, on: tx)
            case .enqueueJob(let kind, let priority, let extra):
                return try enqueue(kind: kind, priority: priority, extra: extra, event: event, trigger: trigger, on: tx)
            case .raiseAlert(let type, let severity, let title, let message, let per):
                return try raise(type: type, severity: severity, title: title, message: message, per: per,
                                 index: index + 1, event: event, trigger: trigger, payload: payload, on: tx)
            }
        }
    }

    func notify(profileId: UUID, event: EventRecord, trigger: EventTrigger, on tx: Connection) throws -> PayloadValue {
        guard let row = try tx.query(
            "SELECT kind, channel, enabled, max_attempts FROM certbus.notification_profiles WHERE id = $1", [profileId]
        ).firstRow else {
            throw TriggerRunFailure("notification profile \(profileId.uuidString.lowercased()) does not exist", permanent: true)
        }
        var result: [String: PayloadValue] = [
            "action": .string("NOTIFY"), "profile_id": .string(profileId.uuidString.lowercased()),
        ]
        guard try row.decode("enabled", as: Bool.self) else {
            result["skipped"] = .string("profile disabled")
            return .object(result)
        }
        switch try row.decode("kind", as: String.self) {
        case NotificationProfile.Kind.pgChannel.rawValue:
            let channel: String = try row.decode("channel")
            let message = try PostgresJSON(encoding: ChannelMessage(
                eventId: event.id, eventType: event.type.rawValue, resource: event.resource.rawValue,
                resourceId: event.resourceId, trigger: trigger.name))
            try tx.execute("SELECT pg_notify($1, $2)", [channel, message.text])
            let delivery = try tx.query(
                """
                INSERT INTO certbus.notification_deliveries (profile_id, event_id, trigger_id, status, duration_ms)
                VALUES ($1, $2, $3, 'DELIVERED', 0) RETURNING id
                """, [profileId, event.id, trigger.id])[0].decode("id", as: Int64.self)
            result["channel"] = .string(channel)
            result["delivery_id"] = .number(Double(delivery))
        default:
            let jobPayload = try PostgresJSON(encoding: DeliverNotificationPayload(
                profileId: profileId, eventId: event.id, triggerId: trigger.id))
            let jobId = try tx.query(
                """
                SELECT certbus.enqueue_job_if_absent('DELIVER_NOTIFICATION', $1::jsonb, $2, 100, NULL, $3, $4,
                                                     'default', 'SYSTEM', $5) AS id
                """,
                [jobPayload, "Notify \(event.type.rawValue) \(event.id) via \(trigger.name)",
                 "notify:\(profileId.uuidString.lowercased()):\(event.id)", try row.decode("max_attempts", as: Int.self),
                 actorId])[0].decode("id", as: Int64?.self)
            result["job_id"] = jobId.map { .number(Double($0)) } ?? .null
            if jobId == nil { result["already_queued"] = .bool(true) }
        }
        return .object(result)
    }

    func enqueue(kind: JobKind, priority: Int?, extra: [String: PayloadValue], event: EventRecord,
                 trigger: EventTrigger, on tx: Connection) throws -> PayloadValue {
        var payload: [String: PayloadValue] = [
            "event_id": .number(Double(event.id)), "event_type": .string(event.type.rawValue),
            "resource": .string(event.resource.rawValue), "resource_id": .string(event.resourceId),
            "trigger_id": .string(trigger.id.uuidString.lowercased()),
        ]
        var certificateId: UUID?
        if event.resource == .certificate, let id = UUID(uuidString: event.resourceId) {
            certificateId = id
            payload["certificate_id"] = .string(event.resourceId)
        }
        for (key, value) in extra { payload[key] = value }
        let jobId = try tx.query(
            """
            SELECT certbus.enqueue_job_if_absent($1, $2::jsonb, $3, $4, NULL, $5, NULL, 'default', 'SYSTEM', $6,
                                                 NULL, $7) AS id
            """,
            [kind.rawValue, try PostgresJSON(encoding: PayloadValue.object(payload)),
             "\(kind.rawValue) for \(event.resource.rawValue.lowercased()) \(event.resourceId) (trigger \(trigger.name))",
             priority ?? 100, "\(event.resource.rawValue.lowercased()):\(event.resourceId)", actorId, certificateId]
        )[0].decode("id", as: Int64?.self)
        var result: [String: PayloadValue] = ["action": .string("ENQUEUE_JOB"), "kind": .string(kind.rawValue)]
        result["job_id"] = jobId.map { .number(Double($0)) } ?? .null
        if jobId == nil { result["already_queued"] = .bool(true) }
        return .object(result)
    }

    func raise(type: AlertType, severity: AlertSeverity, title: String?, message: String?,
               per: TriggerAction.AlertGrouping?, index: Int, event: EventRecord, trigger: EventTrigger, payload: PayloadValue,
               on tx: Connection) throws -> PayloadValue {
        let entity: AlertEntityType = switch event.resource {
        case .certificate: .certificate
        case .discovery: .discovery
        case .approval: .approval
        case .scheduledJob: .task
        case .incident: .incident
        }
        let grouping = per ?? (event.resource == .certificate ? .resource : .event)
        let causeKey = switch grouping {
        case .resource: "trigger:\(trigger.id.uuidString.lowercased()):\(index):\(event.resource.rawValue):\(event.resourceId)"
        case .event: "trigger:\(trigger.id.uuidString.lowercased()):\(index):event:\(event.id)"
        }
        let renderedTitle = title.map { TemplateText.render($0, payload: payload) }
            ?? "\(event.type.rawValue) on \(event.resource.rawValue.lowercased()) \(event.resourceId)"
        let renderedMessage = message.map { TemplateText.render($0, payload: payload) }
            ?? "Raised by trigger \(trigger.name) for event \(event.id): \(event.payloadJSON)"
        let id = try Alerts.raise(
            on: tx, type: type, severity: severity, title: String(renderedTitle.prefix(300)), message: renderedMessage,
            entity: entity, entityId: event.resourceId, causeKey: causeKey)
        return .object(["action": .string("RAISE_ALERT"), "alert_id": .number(Double(id))])
    }
}

/// The JSON sent on a PG_CHANNEL profile's channel (a hint: consumers read the event by id).
struct ChannelMessage: Encodable {
    var eventId: Int64
    var eventType: String
    var resource: String
    var resourceId: String
    var trigger: String
    enum CodingKeys: String, CodingKey {
        case eventId = "event_id", eventType = "event_type", resource, resourceId = "resource_id", trigger
    }
}

/// The payload of a DELIVER_NOTIFICATION job.
public struct DeliverNotificationPayload: Codable, Sendable, Equatable {
    public var profileId: UUID
    public var eventId: Int64
    public var triggerId: UUID?
    public init(profileId: UUID, eventId: Int64, triggerId: UUID?) {
        self.profileId = profileId
        self.eventId = eventId
        self.triggerId = triggerId
    }
    enum CodingKeys: String, CodingKey { case profileId = "profile_id", eventId = "event_id", triggerId = "trigger_id" }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(profileId.uuidString.lowercased(), forKey: .profileId)
        try c.encode(eventId, forKey: .eventId)
        try c.encodeIfPresent(triggerId?.uuidString.lowercased(), forKey: .triggerId)
    }
}
