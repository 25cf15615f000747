import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// The calls certificate handlers and commands make into other areas (audit trail, events,
/// alerts, jobs), always on the caller's connection so they commit with the caller's change.
enum Lifecycle {
    /// Writes an audit row through ``AuditTrail`` (`certbus.write_audit`).
    static func audit(
        _ action: AuditAction, entityType: AuditEntityType, entityId: String, actor: Actor, details: [String: Any] = [:],
        on connection: Connection
    ) throws {
        try AuditTrail.record(on: connection, action: action, entityType: entityType, entityId: entityId, actor: actor,
                              details: details)
    }

    /// Emits CERTIFICATE_ACTION_PERFORMED.
    static func actionPerformed(_ data: CertificateActionPerformedEventData, on connection: Connection) throws {
        try EventLog.emit(on: connection, data)
    }

    /// Emits CERTIFICATE_STATUS_CHANGED.
    static func statusChanged(_ data: CertificateStatusChangedEventData, on connection: Connection) throws {
        try EventLog.emit(on: connection, data)
    }

    /// Emits APPROVAL_REQUESTED or APPROVAL_CLOSED.
    static func approval(closed: Bool, _ data: ApprovalEventData, on connection: Connection) throws {
        try EventLog.emitApproval(on: connection, closed: closed, data)
    }

    /// Raises an alert once per open cause.
    static func raiseAlert(
        type: AlertType, title: String, message: String, entity: AlertEntityType, entityId: String, causeKey: String,
        on connection: Connection
    ) throws {
        try Alerts.raise(on: connection, type: type, severity: type == .warn ? .warn : .error, title: title, message: message,
                         entity: entity, entityId: entityId, causeKey: causeKey)
    }

    /// Resolves the open alerts whose cause key starts with `prefix`.
    static func resolveAlerts(causePrefix prefix: String, resolution: String, on connection: Connection) throws {
        try Alerts.resolve(on: connection, causeKeyPrefix: prefix, resolution: resolution)
    }
}
