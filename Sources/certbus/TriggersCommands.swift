import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus triggers list|show|create|disable|enable`: event triggers (logic in CertbusServices/Events).
enum TriggersCommands {
    static let command = Command(
        "triggers", abstract: "Define what happens when lifecycle events occur.",
        discussion: """
            A trigger reacts to one event type, optionally only when a condition on the payload holds \
            (e.g. "days_left <= 7", "action in (RENEW, REKEY) and outcome = FAILURE"), and runs its actions in \
            order: notify through a notification profile, enqueue a job, raise an alert. Triggers are defined \
            for the platform and may be overridden per RA profile or certificate group: for an event, the \
            certificate's group triggers win, else its profile's, else the platform's. See docs/events-and-alerts.md.
            """,
        subcommands: [list, show, create, disable, enable])

    static let eventType = Option<String>("event", valueName: "type", allowed: EventType.allCases.map(\.rawValue), help: "Only triggers of this event type.")
    static let json = CommandContext.json

    static func scopeText(_ t: EventTrigger, on connection: Connection) throws -> String {
        switch t.scope {
        case .platform: return "platform"
        case .raProfile(let id):
            let name = try connection.query("SELECT name FROM certbus.ra_profiles WHERE id = $1", [id]).firstRow?.decode("name", as: String.self)
            return "profile:\(name ?? id.uuidString.lowercased())"
        case .group(let id):
            let name = try connection.query("SELECT name FROM certbus.certificate_groups WHERE id = $1", [id]).firstRow?.decode("name", as: String.self)
            return "group:\(name ?? id.uuidString.lowercased())"
        }
    }

    static func describeActions(_ t: EventTrigger) -> String {
        (try? t.actions().map(\.description).joined(separator: "; ")) ?? t.actionsJSON
    }

    static func jsonValue(_ t: EventTrigger, scope: String) -> JSONValue {
        .object([
            "id": .string(t.id.uuidString.lowercased()), "name": .string(t.name), "event_type": .string(t.eventType.rawValue),
            "scope": .string(scope), "condition": .string(t.conditionText),
            "actions": (try? JSONDecoder().decode(JSONValue.self, from: Data(t.actionsJSON.utf8))) ?? .string(t.actionsJSON),
            "position": .int(t.position), "enabled": .bool(t.enabled), "description": .string(t.description),
            "created_by": .string(t.createdBy), "created_at": .date(t.createdAt),
        ])
    }

    static let list = Command(
        "list", abstract: "List triggers by event type and position.",
        options: CommandContext.options + [eventType]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let triggers = try EventTriggers.list(on: connection, eventType: invocation[eventType].flatMap(EventType.init(rawValue:)))
        let scopes = try triggers.map { try scopeText($0, on: connection) }
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(zip(triggers, scopes).map { jsonValue($0, scope: $1) })))
        } else if triggers.isEmpty {
            invocation.print("no triggers")
        } else {
            invocation.output.write(TableFormatter([
                .init("NAME"), .init("EVENT"), .init("SCOPE", maxWidth: 40), .init("POS", alignment: .right),
                .init("ENABLED"), .init("CONDITION", maxWidth: 50), .init("ACTIONS", maxWidth: 80),
            ]).render(zip(triggers, scopes).map { t, scope in
                [t.name, t.eventType.rawValue, scope, String(t.position), t.enabled ? "yes" : "no",
                 t.conditionText.isEmpty ? "(always)" : t.conditionText, describeActions(t)]
            }))
        }
    }

    static let reference = Argument<String>("trigger", help: "Trigger name or id.")

    static let show = Command(
        "show", abstract: "Show one trigger and its recent runs.", options: CommandContext.options, arguments: [reference]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let t = try EventTriggers.find(on: connection, try invocation.value(reference))
        let scope = try scopeText(t, on: connection)
        if context.json {
            invocation.output.write(try JSONOutput.string(jsonValue(t, scope: scope)))
            return
        }
        let runs = try connection.query(
            """
            SELECT status, count(*)::int AS n, max(updated_at) AS last FROM certbus.event_trigger_runs
             WHERE trigger_id = $1 GROUP BY status ORDER BY status
            """, [t.id])
        var lines = [
            "Trigger \(t.name) (\(t.id.uuidString.lowercased()))",
            "  event:      \(t.eventType.rawValue)",
            "  scope:      \(scope)",
            "  condition:  \(t.conditionText.isEmpty ? "(always)" : t.conditionText)",
            "  position:   \(t.position)",
            "  enabled:    \(t.enabled ? "yes" : "no")",
            "  created:    \(ISODate.format(t.createdAt)) by \(t.createdBy)",
            "  actions:",
        ]
        lines += ((try? t.actions()) ?? []).enumerated().map { "    \($0.offset + 1). \($0.element)" }
        if !t.description.isEmpty { lines.append("  description: \(t.description)") }
        lines.append("  runs:")
        if runs.isEmpty { lines.append("    none yet") }
        for r in runs {
            lines.append("    \(try r.decode("status", as: String.self)): \(try r.decode("n", as: Int.self)), last \(ISODate.format(try r.decode("last", as: Date.self)))")
        }
        invocation.print(lines.joined(separator: "\n"))
    }

    static let name = Argument<String>("name", help: "Unique trigger name (letters, digits, . _ -).")
    static let on = Option<String>("on", valueName: "type", required: true, allowed: EventType.allCases.map(\.rawValue), help: "The event type it reacts to.")
    static let scope = Option<String>("scope", valueName: "scope", default: "platform", help: "platform, profile:<name> or group:<name>.")
    static let condition = Option<String>("when", valueName: "condition", help: "Condition on the payload, e.g. \"days_left <= 7\" (default: always).")
    static let action = Option<String>(
        "action", valueName: "action", repeatable: true,
        help: "An action, in order (repeatable): notify:<profile>, enqueue:<KIND>[:<priority>], alert:<TYPE>[:<SEVERITY>], or a JSON object.")
    static let alertTitle = Option<String>("alert-title", valueName: "text", help: "Title of alert actions; {{field}} takes a payload field.")
    static let alertMessage = Option<String>("alert-message", valueName: "text", help: "Message of alert actions; {{field}} takes a payload field.")
    static let position = Option<Int>("position", default: 100, help: "Order among the triggers of one event (lower first).")
    static let description = Option<String>("description", valueName: "text", help: "Free text.")

    static let create = Command(
        "create", abstract: "Create a trigger.",
        discussion: """
            Example: certbus triggers create renew-soon --on CERTIFICATE_EXPIRING --when "days_left <= 14" \
            --action enqueue:RENEW_CERT:50 --action notify:ops-hook
            """,
        options: CommandContext.options + [on, scope, condition, action, alertTitle, alertMessage, position, description],
        arguments: [name]
    ) { invocation in
        let context = CommandContext(invocation)
        guard let type = EventType(rawValue: try invocation.value(on)) else { throw UsageError("unknown event type") }
        let texts = invocation.values(action)
        guard !texts.isEmpty else { throw UsageError("give at least one --action") }
        let connection = try context.connect()
        defer { connection.close() }
        let actions = try texts.map {
            try TriggerSpec.action($0, title: invocation[alertTitle], message: invocation[alertMessage], on: connection)
        }
        let trigger = try EventTriggers.create(
            on: connection,
            NewEventTrigger(
                name: try invocation.value(name), eventType: type,
                scope: try TriggerSpec.scope(invocation[scope] ?? "platform", on: connection),
                condition: invocation[condition] ?? "", actions: actions, position: invocation[position] ?? 100,
                description: invocation[description] ?? ""),
            actor: EndpointArguments.operatorActor(invocation))
        let scopeName = try scopeText(trigger, on: connection)
        try context.emit(
            text: "created trigger \(trigger.name) on \(trigger.eventType.rawValue) (\(scopeName)): \(describeActions(trigger))",
            json: jsonValue(trigger, scope: scopeName))
    }

    static func toggle(_ enabled: Bool) -> Command {
        Command(
            enabled ? "enable" : "disable",
            abstract: enabled ? "Enable a trigger again." : "Disable a trigger (it neither runs nor overrides).",
            options: CommandContext.options, arguments: [reference]
        ) { invocation in
            let context = CommandContext(invocation)
            let connection = try context.connect()
            defer { connection.close() }
            let t = try EventTriggers.setEnabled(
                on: connection, try invocation.value(reference), enabled: enabled, actor: EndpointArguments.operatorActor(invocation))
            try context.emit(text: "\(enabled ? "enabled" : "disabled") trigger \(t.name)",
                             json: jsonValue(t, scope: try scopeText(t, on: connection)))
        }
    }

    static let disable = toggle(false)
    static let enable = toggle(true)
}
