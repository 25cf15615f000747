import CertbusCore
import Foundation
import Postgres

/// One row of `certbus.event_triggers`.
public struct EventTrigger: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public var eventType: EventType
    public var scope: TriggerScope
    /// The condition text as stored ('' = always).
    public var conditionText: String
    /// The actions JSON as stored.
    public var actionsJSON: String
    public var position: Int
    public var enabled: Bool
    public var description: String
    public var createdBy: String
    public var createdAt: Date

    /// The parsed condition; throws `TriggerConditionError` when the stored text does not parse
    /// (possible only for triggers written by hand in SQL).
    public func condition() throws -> TriggerCondition { try TriggerCondition.parse(conditionText) }

    /// The parsed actions; throws `TriggerActionError` for a bad stored list.
    public func actions() throws -> [TriggerAction] { try TriggerAction.parseList(json: Data(actionsJSON.utf8)) }

    static let columns = """
        id, name, event_type, scope, profile_id, group_id, condition, actions::text AS actions, position, enabled,
        description, created_by, created_at
        """

    init(row: Row) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        let typeText: String = try row.decode("event_type")
        guard let type = EventType(rawValue: typeText) else { throw TriggerError("trigger \(id) has unknown event type \(typeText)") }
        eventType = type
        let scopeText: String = try row.decode("scope")
        switch scopeText {
        case "RA_PROFILE": scope = .raProfile(try row.decode("profile_id"))
        case "GROUP": scope = .group(try row.decode("group_id"))
        default: scope = .platform
        }
        conditionText = try row.decode("condition")
        actionsJSON = try row.decode("actions")
        position = try row.decode("position")
        enabled = try row.decode("enabled")
        description = try row.decode("description")
        createdBy = try row.decode("created_by")
        createdAt = try row.decode("created_at")
    }
}

/// What an operator asks for when creating a trigger.
public struct NewEventTrigger: Sendable {
    public var name: String
    public var eventType: EventType
    public var scope: TriggerScope
    public var condition: String
    public var actions: [TriggerAction]
    public var position: Int
    public var description: String

    public init(name: String, eventType: EventType, scope: TriggerScope = .platform, condition: String = "",
                actions: [TriggerAction], position: Int = 100, description: String = "") {
        self.name = name
        self.eventType = eventType
        self.scope = scope
        self.condition = condition
        self.actions = actions
        self.position = position
        self.description = description
    }
}

/// A trigger operation refused; nothing changed.
public struct TriggerError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
