import CertbusCore
import Foundation
import Postgres

/// The calls certificate handlers and commands make into other areas' SQL entry points (audit,
/// events, alerts, jobs), in the caller's transaction. One place, so the call sites stay typed.
enum Lifecycle {
    /// Writes an audit row through ``AuditTrail`` (`certbus.write_audit`).
    static func audit(
        _ action: String, entityType: String, entityId: String, actor: Actor, details: [String: Any] = [:],
        on connection: Connection
    ) throws {
        try AuditTrail.record(on: connection, action: AuditAction(action), entityType: AuditEntityType(entityType),
                              entityId: entityId, actor: actor, details: details)
    }

    /// Emits a lifecycle event (`certbus.emit_event`).
    static func event(
        _ type: String, resource: String, resourceId: String, payload: [String: Any], on connection: Connection
    ) throws {
        _ = try connection.query(
            "SELECT certbus.emit_event($1, $2, $3, $4::jsonb)",
            [type, resource, resourceId, try PostgresJSON(object: payload)])
    }

    /// Raises an alert once per open cause (`certbus.raise_alert`).
    static func raiseAlert(
        type: String, severity: String, title: String, message: String, entityType: String, entityId: String,
        causeKey: String, on connection: Connection
    ) throws {
        _ = try connection.query(
            "SELECT certbus.raise_alert($1, $2, $3, $4, $5, $6, $7)",
            [type, severity, title, message, entityType, entityId, causeKey])
    }

    /// Resolves the open alerts whose cause key starts with `prefix` (`certbus.resolve_alerts`).
    static func resolveAlerts(causePrefix prefix: String, on connection: Connection) throws {
        _ = try connection.query("SELECT certbus.resolve_alerts($1)", [prefix])
    }

    /// Enqueues a job (`certbus.enqueue_job`), or with `ifAbsent`, returns nil when a job with
    /// the same unique key is already queued or running.
    @discardableResult
    static func enqueue(
        kind: JobKind, payload: [String: Any], name: String, uniqueKey: String? = nil, runAt: Date? = nil,
        actor: Actor, caId: UUID? = nil, certificateId: UUID? = nil, ifAbsent: Bool = false, on connection: Connection
    ) throws -> Int64? {
        let function = ifAbsent ? "certbus.enqueue_job_if_absent" : "certbus.enqueue_job"
        return try connection.query(
            """
            SELECT \(function)(p_kind => $1, p_payload => $2::jsonb, p_name => $3, p_run_at => $4::timestamptz,
                   p_unique_key => $5, p_triggered_by_type => $6, p_triggered_by_id => $7, p_ca_id => $8::uuid,
                   p_certificate_id => $9::uuid) AS id
            """,
            [kind.rawValue, try PostgresJSON(object: payload), name, runAt, uniqueKey, actor.kind.rawValue, actor.id,
             caId, certificateId]
        ).firstRow?.decode("id", as: Int64?.self)
    }
}
