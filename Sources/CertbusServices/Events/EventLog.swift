import CertbusCore
import Foundation
import Postgres

/// Writes lifecycle events into `certbus.events` through `certbus.emit_event`, on the caller's
/// connection and therefore inside the caller's transaction: the event commits or rolls back with
/// the change that caused it. The insert wakes dispatchers with `NOTIFY certbus_events`.
public enum EventLog {
    /// The channel notified (payload: the highest new event id) when events are inserted.
    public static let channel = "certbus_events"

    /// Emits one event with a prepared JSON object payload; returns the event id.
    /// Throws `EventEmitError` before touching the database when the resource does not belong to the
    /// event type or the resource id is empty; throws `PostgresError` when the payload is not a JSON object.
    @discardableResult
    public static func emit(
        on connection: Connection, type: EventType, resource: EventResource, resourceId: String, payload: PostgresJSON
    ) throws -> Int64 {
        guard type.resource == resource else {
            throw EventEmitError(type: type, message: "\(type) events are about \(type.resource), not \(resource)")
        }
        guard !resourceId.isEmpty, resourceId.count <= 200 else {
            throw EventEmitError(type: type, message: "resource id must be 1 to 200 characters, got \(resourceId.count)")
        }
        let rows = try connection.query(
            "SELECT certbus.emit_event($1, $2, $3, $4::jsonb) AS id",
            [type.rawValue, resource.rawValue, resourceId, payload])
        return try rows[0].decode("id", as: Int64.self)
    }

    /// Emits one event whose payload is any `Encodable` value (encoded with sorted keys, ISO 8601 dates).
    @discardableResult
    public static func emit<Payload: Encodable>(
        on connection: Connection, type: EventType, resource: EventResource, resourceId: String, payload: Payload
    ) throws -> Int64 {
        try emit(on: connection, type: type, resource: resource, resourceId: resourceId,
                 payload: PostgresJSON(encoding: payload))
    }

    /// Emits a typed event payload (`CertificateStatusChangedEventData`, `ScheduledJobFinishedEventData`, ...):
    /// type, resource and resource id come from the payload.
    @discardableResult
    public static func emit<Data: EventData>(on connection: Connection, _ data: Data) throws -> Int64 {
        try emit(on: connection, type: Data.eventType, resource: Data.eventType.resource,
                 resourceId: data.resourceId, payload: data)
    }

    /// Emits APPROVAL_REQUESTED (`closed: false`) or APPROVAL_CLOSED (`closed: true`).
    @discardableResult
    public static func emitApproval(on connection: Connection, closed: Bool, _ data: ApprovalEventData) throws -> Int64 {
        try emit(on: connection, type: closed ? .approvalClosed : .approvalRequested, resource: .approval,
                 resourceId: data.approvalId, payload: data)
    }
}

/// An event that cannot be emitted as asked; nothing was written.
public struct EventEmitError: Error, CustomStringConvertible, Sendable {
    /// The event type the caller tried to emit.
    public var type: EventType
    /// What is wrong.
    public var message: String
    public var description: String { "cannot emit \(type): \(message)" }
}
