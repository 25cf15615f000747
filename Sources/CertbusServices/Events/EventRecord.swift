import CertbusCore
import Foundation
import Postgres

/// One row of `certbus.events`.
public struct EventRecord: Sendable, Equatable {
    public var id: Int64
    public var type: EventType
    public var resource: EventResource
    public var resourceId: String
    /// The payload as JSON text (keys sorted by PostgreSQL's jsonb order).
    public var payloadJSON: String
    public var profileId: UUID?
    public var groupId: UUID?
    public var createdAt: Date
    /// PENDING or DISPATCHED.
    public var dispatchState: String
    public var dispatchedAt: Date?
    public var triggersMatched: Int?

    /// The payload parsed for conditions and templates (an empty object if it does not parse).
    public var payload: PayloadValue { (try? PayloadValue.parse(json: payloadJSON)) ?? .object([:]) }

    static let columns = """
        id, event_type, resource, resource_id, payload::text AS payload, profile_id, group_id, created_at,
        dispatch_state, dispatched_at, triggers_matched
        """

    init(row: Row) throws {
        id = try row.decode("id")
        let typeText: String = try row.decode("event_type")
        let resourceText: String = try row.decode("resource")
        guard let type = EventType(rawValue: typeText), let resource = EventResource(rawValue: resourceText) else {
            throw EventQueryError("event has unknown type \(typeText) or resource \(resourceText)")
        }
        self.type = type
        self.resource = resource
        resourceId = try row.decode("resource_id")
        payloadJSON = try row.decode("payload")
        profileId = try row.decode("profile_id")
        groupId = try row.decode("group_id")
        createdAt = try row.decode("created_at")
        dispatchState = try row.decode("dispatch_state")
        dispatchedAt = try row.decode("dispatched_at")
        triggersMatched = try row.decode("triggers_matched")
    }
}

/// A bad event query (unknown id, bad filter); nothing changed.
public struct EventQueryError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
