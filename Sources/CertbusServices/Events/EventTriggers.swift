import CertbusCore
import Foundation
import Postgres

/// Creates, lists and disables event triggers; operator changes write TRIGGER_CHANGED audit rows in the
/// same transaction.
public enum EventTriggers {
    /// Creates a trigger after checking its name, condition, actions, scope and the notification profiles and
    /// profile/group it names. Throws `TriggerError` (or `TriggerConditionError`) and writes nothing on bad input.
    public static func create(on connection: Connection, _ new: NewEventTrigger, actor: Actor) throws -> EventTrigger {
        guard new.name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", options: .regularExpression) != nil else {
            throw TriggerError("trigger name '\(new.name)' must be 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        let condition = try TriggerCondition.parse(new.condition)
        do {
            try TriggerAction.validate(new.actions)
        } catch let error as TriggerActionError {
            throw TriggerError(error.description)
        }
        if new.scope != .platform, !new.eventType.isOverridable {
            throw TriggerError("\(new.eventType) triggers can only be defined at PLATFORM scope (RA profiles and groups do not override this event)")
        }
        let actionsJSON = try PostgresJSON(encoding: new.actions)
        do {
            return try connection.withTransaction { tx in
                for case .notify(let profileId) in new.actions {
                    guard try tx.query("SELECT 1 FROM certbus.notification_profiles WHERE id = $1", [profileId]).firstRow != nil
                    else { throw TriggerError("no notification profile \(profileId.uuidString.lowercased())") }
                }
                var profileId: UUID?
                var groupId: UUID?
                switch new.scope {
                case .platform: break
                case .raProfile(let id):
                    guard try tx.query("SELECT 1 FROM certbus.ra_profiles WHERE id = $1", [id]).firstRow != nil
                    else { throw TriggerError("no RA profile \(id.uuidString.lowercased())") }
                    profileId = id
                case .group(let id):
                    guard try tx.query("SELECT 1 FROM certbus.certificate_groups WHERE id = $1", [id]).firstRow != nil
                    else { throw TriggerError("no certificate group \(id.uuidString.lowercased())") }
                    groupId = id
                }
                let row = try tx.query(
                    """
                    INSERT INTO certbus.event_triggers
                      (name, event_type, scope, profile_id, group_id, condition, actions, position, description, created_by)
                    VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10)
                    RETURNING \(EventTrigger.columns)
                    """,
                    [new.name, new.eventType.rawValue, new.scope.kind, profileId, groupId, condition.description,
                     actionsJSON, new.position, new.description, actor.id])[0]
                let trigger = try EventTrigger(row: row)
                try AuditTrail.record(
                    on: tx, action: .triggerChanged, entityType: .trigger, entityId: trigger.id.uuidString.lowercased(),
                    actor: actor,
                    details: ["operation": "create", "name": trigger.name, "event_type": trigger.eventType.rawValue,
                              "scope": trigger.scope.description, "condition": trigger.conditionText,
                              "actions": new.actions.map(\.description)])
                return trigger
            }
        } catch let error as PostgresError where error.isUniqueViolation {
            throw TriggerError("a trigger named '\(new.name)' already exists")
        }
    }

    /// Triggers, optionally of one event type, by event type, position and name.
    public static func list(on connection: Connection, eventType: EventType? = nil, includeDisabled: Bool = true) throws -> [EventTrigger] {
        try connection.query(
            """
            SELECT \(EventTrigger.columns) FROM certbus.event_triggers
             WHERE ($1::text IS NULL OR event_type = $1) AND ($2 OR enabled)
             ORDER BY event_type, position, name
            """, [eventType?.rawValue, includeDisabled]
        ).map(EventTrigger.init(row:))
    }

    /// The trigger with this id or name; throws `TriggerError` when there is none.
    public static func find(on connection: Connection, _ idOrName: String) throws -> EventTrigger {
        let rows = if let id = UUID(uuidString: idOrName) {
            try connection.query("SELECT \(EventTrigger.columns) FROM certbus.event_triggers WHERE id = $1", [id])
        } else {
            try connection.query("SELECT \(EventTrigger.columns) FROM certbus.event_triggers WHERE name = $1", [idOrName])
        }
        guard let row = rows.firstRow else { throw TriggerError("no trigger '\(idOrName)'") }
        return try EventTrigger(row: row)
    }

    /// Disables (or re-enables) a trigger; returns it. Disabled triggers neither run nor override.
    @discardableResult
    public static func setEnabled(on connection: Connection, _ idOrName: String, enabled: Bool, actor: Actor) throws -> EventTrigger {
        try connection.withTransaction { tx in
            let trigger = try find(on: tx, idOrName)
            let row = try tx.query(
                "UPDATE certbus.event_triggers SET enabled = $2 WHERE id = $1 RETURNING \(EventTrigger.columns)",
                [trigger.id, enabled])[0]
            try AuditTrail.record(
                on: tx, action: .triggerChanged, entityType: .trigger, entityId: trigger.id.uuidString.lowercased(),
                actor: actor, details: ["operation": enabled ? "enable" : "disable", "name": trigger.name])
            return try EventTrigger(row: row)
        }
    }
}
