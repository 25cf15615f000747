import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import Postgres

#if canImport(Glibc)
    import Glibc
#endif

/// `certbus alerts list|show|read|watch|scan`: the seed's Alerts page on the command line
/// (logic in CertbusServices/Alerts).
enum AlertsCommands {
    static let command = Command(
        "alerts", abstract: "List, read and watch alerts (expiring certificates, failed jobs, agents offline ...).",
        discussion: """
            Alerts are raised by the alert generator from the database's state: certificates crossing their \
            profile's expiry ladder without a valid replacement, failed jobs and renewals, failed deployment \
            validations, agents offline. Each cause has at most one open alert; it resolves itself when the \
            cause is gone and stays in the history. Reading an alert only marks it read. See docs/events-and-alerts.md.
            """,
        subcommands: [list, show, read, watch, scan])

    static let severity = Option<String>("severity", valueName: "level", allowed: ["ERROR", "WARN", "error", "warn"], help: "Only ERROR or WARN alerts.")
    static let type = Option<String>(
        "type", valueName: "type", allowed: ["EXPIRING_SOON", "ERROR", "WARN", "expiring_soon", "error", "warn"],
        help: "Only EXPIRING_SOON, ERROR or WARN alerts.")
    static let unread = Flag("unread", help: "Only alerts not marked read yet.")
    static let open = Flag("open", help: "Only alerts whose cause is still there.")
    static let entity = Option<String>("entity", valueName: "type[:id]", help: "Only alerts about this kind of entity (CERTIFICATE, JOB, AGENT, ENDPOINT, CA ...), optionally one id.")
    static let since = Option<String>("since", valueName: "when", help: "Only alerts raised since a date (2025-01-31) or for a duration back (24h, 7d).")
    static let limit = Option<Int>("limit", default: 100, help: "At most this many alerts (1 to 10000).")
    static let filterOptions: [any OptionDeclaration] = [severity, type, unread, open, entity, since]

    /// The filter options of `invocation`; `withLimit` when the command declares `--limit`.
    static func filter(_ invocation: Invocation, withLimit: Bool = true) throws -> AlertFilter {
        var filter = AlertFilter(
            severity: invocation[severity].flatMap { AlertSeverity(rawValue: $0.uppercased()) },
            type: invocation[type].flatMap { AlertType(rawValue: $0.uppercased()) },
            unreadOnly: invocation[unread], openOnly: invocation[open], limit: withLimit ? invocation[limit] ?? 100 : 10_000)
        if let text = invocation[entity] {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            guard let kind = AlertEntityType(rawValue: parts[0].uppercased()) else {
                throw UsageError("--entity must start with one of \(AlertEntityType.allCases.map(\.rawValue).joined(separator: ", ")); got '\(text)'")
            }
            filter.entityType = kind
            filter.entityId = parts.count == 2 ? parts[1] : nil
        }
        if let text = invocation[since] { filter.since = try AuditCommands.parseSince(text) }
        guard (1...10_000).contains(filter.limit) else { throw UsageError("--limit must be between 1 and 10000") }
        return filter
    }

    static func table(_ alerts: [AlertRecord]) -> String {
        TableFormatter([
            .init("ID", alignment: .right), .init("SEVERITY"), .init("TYPE"), .init("RAISED"), .init("STATE"),
            .init("ENTITY", maxWidth: 48), .init("TITLE", maxWidth: 70),
        ]).render(alerts.map { a in
            [String(a.id), a.severity.rawValue, a.type.rawValue, ISODate.format(a.createdAt), state(a),
             "\(a.entityType) \(a.entityId)", a.title]
        })
    }

    static func state(_ a: AlertRecord) -> String {
        (a.isOpen ? "open" : "resolved") + (a.isUnread ? ", unread" : "")
    }

    // MARK: list

    static let list = Command(
        "list", abstract: "List alerts, newest first.",
        options: CommandContext.options + filterOptions + [limit]
    ) { invocation in
        let context = CommandContext(invocation)
        let filter = try filter(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let alerts = try AlertInbox.list(on: connection, filter)
        if context.json {
            invocation.output.write(try JSONOutput.string(alerts))
        } else if alerts.isEmpty {
            invocation.print("no alerts match")
        } else {
            invocation.output.write(table(alerts))
        }
    }

    // MARK: show

    static let id = Argument<Int>("id", help: "The alert id.")

    static let show = Command(
        "show", abstract: "Show one alert in full.", options: CommandContext.options, arguments: [id]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let a = try AlertInbox.find(on: connection, id: Int64(try invocation.value(id)))
        var lines = [
            "Alert \(a.id): \(a.title)",
            "  severity:   \(a.severity.rawValue)",
            "  type:       \(a.type.rawValue)",
            "  entity:     \(a.entityType) \(a.entityId)",
            "  raised:     \(ISODate.format(a.createdAt))",
            "  cause:      \(a.causeKey)",
            "  read:       " + (a.readAt.map { "\(ISODate.format($0)) by \(a.readBy ?? "?")" } ?? "no"),
            "  resolved:   " + (a.resolvedAt.map { "\(ISODate.format($0)) (\(a.resolution ?? ""))" } ?? "no, the cause is still there"),
            "",
        ]
        lines += a.message.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        if context.json {
            invocation.output.write(try JSONOutput.string(a))
        } else {
            invocation.print(lines.joined(separator: "\n"))
        }
    }

    // MARK: read

    static let ids = Argument<Int>("id", arity: .variadic, help: "Alert ids to mark read.")
    static let all = Flag("all", help: "Mark every unread alert read (narrowed by the filters).")

    static let read = Command(
        "read", abstract: "Mark alerts read: by id, or all of them with --all (optionally filtered).",
        options: CommandContext.options + [all] + filterOptions, arguments: [ids]
    ) { invocation in
        let context = CommandContext(invocation)
        let given = invocation.values(ids).map(Int64.init)
        let actor = EndpointArguments.operatorActor(invocation)
        if invocation[all] {
            guard given.isEmpty else { throw UsageError("give alert ids or --all, not both") }
            let filter = try filter(invocation, withLimit: false)
            let connection = try context.connect()
            defer { connection.close() }
            let count = try AlertInbox.markAllRead(on: connection, filter, actor: actor)
            try context.emit(text: "marked \(count) alert\(count == 1 ? "" : "s") read", json: ["marked_read": .int(count)])
            return
        }
        guard !given.isEmpty else { throw UsageError("give alert ids to mark read, or --all") }
        if invocation[unread] || invocation[open] || invocation.isGiven(severity) || invocation.isGiven(type)
            || invocation.isGiven(entity) || invocation.isGiven(since) {
            throw UsageError("filters only apply with --all")
        }
        let connection = try context.connect()
        defer { connection.close() }
        let count = try AlertInbox.markRead(on: connection, ids: given, actor: actor)
        try context.emit(text: "marked \(count) alert\(count == 1 ? "" : "s") read", json: ["marked_read": .int(count)])
    }

    // MARK: watch

    static let duration = Option<TimeSpan>("for", valueName: "duration", help: "Stop after this long (default: until interrupted).")

    static let watch = Command(
        "watch", abstract: "Show alerts and follow changes live (refreshed by NOTIFY, no polling).",
        discussion: "Prints the matching alerts, then one line per alert raised, read or resolved, until Ctrl-C.",
        options: CommandContext.options + filterOptions + [limit, duration]
    ) { invocation in
        let context = CommandContext(invocation)
        let filter = try filter(invocation)
        let connection = try context.connect(applicationName: "certbus-alerts-watch")
        defer { connection.close() }
        let deadline = invocation[duration].map { Date().addingTimeInterval($0.timeInterval) }
        let watch = AlertWatch(connection: connection, filter: filter)
        let current = try watch.start()
        if context.json {
            for alert in current.reversed() { invocation.output.write(try line(["change": "current"], alert)) }
        } else {
            invocation.print(current.isEmpty ? "no alerts match; watching for new ones (Ctrl-C to stop)"
                                             : table(current) + "watching for changes (Ctrl-C to stop)")
        }
        func show(_ changes: [AlertWatch.Change]) throws {
            for change in changes {
                let (word, alert): (String, AlertRecord) = switch change {
                case .raised(let a): ("raised", a)
                case .read(let a): ("read", a)
                case .resolved(let a): ("resolved", a)
                }
                if context.json {
                    invocation.output.write(try line(["change": .string(word)], alert))
                } else {
                    let extra = word == "resolved" ? " (\(alert.resolution ?? ""))" : ""
                    invocation.print("\(ISODate.format(Date()))  \(word.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0))  #\(alert.id)  \(alert.severity.rawValue)  \(alert.type.rawValue)  \(alert.entityType) \(alert.entityId)  \(alert.title)\(extra)")
                }
            }
        }
        try LiveView.run(connection: connection, deadline: deadline, errorOutput: invocation.errorOutput) {
            try show(try watch.resume())
        } step: { timeout, wake in
            try show(try watch.next(timeout: timeout, wakeDescriptor: wake))
        }
    }

    /// One compact JSON line: the change word and the alert.
    static func line(_ fields: [String: JSONValue], _ alert: AlertRecord) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let alertJSON = try JSONDecoder().decode(JSONValue.self, from: try encoder.encode(alert))
        var object = fields
        object["alert"] = alertJSON
        return String(decoding: try encoder.encode(JSONValue.object(object)), as: UTF8.self) + "\n"
    }

    // MARK: scan

    static let scan = Command(
        "scan", abstract: "Run the alert generator now (expiry ladder, failed jobs, renewal failures).",
        discussion: "The same work the scheduler does every minute (jobs) and every hour (expiry); safe to run any time.",
        options: CommandContext.options
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let summary = try CommandProgress(context).ticking("raising and resolving alerts") {
            try ExpiryAlerts().run(on: connection) + JobFailureAlerts().run(on: connection)
        }
        try context.emit(text: "\(summary)", json: ["raised": .int(summary.raised), "resolved": .int(summary.resolved)])
    }
}
