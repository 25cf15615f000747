import CertbusArguments
import CertbusBus
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus events list|show|scan|dispatch|prune`: lifecycle events, the expiry scan on demand, and a
/// stand-alone dispatcher (logic in CertbusServices/Events).
enum EventsCommands {
    static let command = Command(
        "events", abstract: "Inspect lifecycle events, run the expiry scan, dispatch event triggers.",
        discussion: """
            Events are written in the same transaction as the change that caused them (certificate status \
            changed, action performed, expiring, discovered, discovery finished, approval requested/closed, \
            scheduled job finished). The dispatcher runs the event triggers that apply to each. \
            See docs/events-and-alerts.md.
            """,
        subcommands: [list, show, scan, dispatch, prune])

    static let type = Option<String>(
        "type", valueName: "type", allowed: EventType.allCases.map(\.rawValue), help: "Only events of this type.")
    static let resource = Option<String>(
        "resource", valueName: "resource", allowed: EventResource.allCases.map(\.rawValue), help: "Only events about this kind of resource.")
    static let resourceId = Option<String>("resource-id", valueName: "id", help: "Only events about this resource id.")
    static let pending = Flag("pending", help: "Only events not dispatched yet.")
    static let since = Option<String>("since", valueName: "when", help: "Only events since a date (2025-01-31) or for a duration back (24h, 7d).")
    static let limit = Option<Int>("limit", default: 50, help: "At most this many events (1 to 10000).")

    static func json(_ e: EventRecord) -> JSONValue {
        .object([
            "id": .int(Int(e.id)), "event_type": .string(e.type.rawValue), "resource": .string(e.resource.rawValue),
            "resource_id": .string(e.resourceId),
            "payload": (try? JSONDecoder().decode(JSONValue.self, from: Data(e.payloadJSON.utf8))) ?? .string(e.payloadJSON),
            "profile_id": e.profileId.map { .string($0.uuidString.lowercased()) } ?? .null,
            "group_id": e.groupId.map { .string($0.uuidString.lowercased()) } ?? .null,
            "created_at": .date(e.createdAt), "dispatch_state": .string(e.dispatchState),
            "dispatched_at": e.dispatchedAt.map(JSONValue.date) ?? .null,
            "triggers_matched": e.triggersMatched.map { .int($0) } ?? .null,
        ])
    }

    static let list = Command(
        "list", abstract: "List events, newest first.",
        options: CommandContext.options + [type, resource, resourceId, pending, since, limit]
    ) { invocation in
        let context = CommandContext(invocation)
        var filter = EventFilter(
            type: invocation[type].flatMap(EventType.init(rawValue:)),
            resource: invocation[resource].flatMap(EventResource.init(rawValue:)), resourceId: invocation[resourceId],
            pending: invocation[pending] ? true : nil, limit: invocation[limit] ?? 50)
        if let text = invocation[since] { filter.since = try AuditCommands.parseSince(text) }
        guard (1...10_000).contains(filter.limit) else { throw UsageError("--limit must be between 1 and 10000") }
        let connection = try context.connect()
        defer { connection.close() }
        let events = try EventQueries.list(on: connection, filter)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(events.map(json))))
        } else if events.isEmpty {
            invocation.print("no events match")
        } else {
            invocation.output.write(TableFormatter([
                .init("ID", alignment: .right), .init("TIME"), .init("TYPE"), .init("RESOURCE", maxWidth: 50),
                .init("DISPATCH"), .init("PAYLOAD", maxWidth: 70),
            ]).render(events.map { e in
                [String(e.id), ISODate.format(e.createdAt), e.type.rawValue, "\(e.resource.rawValue) \(e.resourceId)",
                 e.dispatchState == "PENDING" ? "pending" : "\(e.triggersMatched ?? 0) triggers", e.payloadJSON]
            }))
        }
    }

    static let id = Argument<Int>("id", help: "The event id.")

    static let show = Command(
        "show", abstract: "Show one event: payload, trigger runs and notification deliveries.",
        options: CommandContext.options, arguments: [id]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let event = try EventQueries.find(on: connection, id: Int64(try invocation.value(id)))
        let runs = try EventQueries.runs(on: connection, eventId: event.id)
        if context.json {
            var object = json(event)
            if case .object(var fields) = object {
                fields["trigger_runs"] = .array(runs.map { r in
                    .object([
                        "trigger": .string(r.triggerName), "trigger_id": .string(r.triggerId.uuidString.lowercased()),
                        "status": .string(r.status), "attempts": .int(r.attempts),
                        "next_attempt_at": r.nextAttemptAt.map(JSONValue.date) ?? .null,
                        "result": (try? JSONDecoder().decode(JSONValue.self, from: Data(r.resultJSON.utf8))) ?? .null,
                        "error": r.error.map(JSONValue.string) ?? .null,
                    ])
                })
                object = .object(fields)
            }
            invocation.output.write(try JSONOutput.string(object))
            return
        }
        var lines = [
            "Event \(event.id): \(event.type.rawValue)",
            "  resource:   \(event.resource.rawValue) \(event.resourceId)",
            "  time:       \(ISODate.format(event.createdAt))",
            "  dispatch:   " + (event.dispatchedAt.map { "\(ISODate.format($0)), \(event.triggersMatched ?? 0) triggers matched" } ?? "pending"),
        ]
        if let profile = event.profileId { lines.append("  profile:    \(profile.uuidString.lowercased())") }
        if let group = event.groupId { lines.append("  group:      \(group.uuidString.lowercased())") }
        lines += ["", "Payload"]
        lines += AuditCommands.prettyJSON(event.payloadJSON).split(separator: "\n").map { "  " + $0 }
        lines += ["", "Trigger runs"]
        if runs.isEmpty { lines.append("  none") }
        for r in runs {
            var line = "  \(r.triggerName): \(r.status) after \(r.attempts) attempt\(r.attempts == 1 ? "" : "s")"
            if let next = r.nextAttemptAt { line += ", next at \(ISODate.format(next))" }
            lines.append(line)
            if let error = r.error { lines.append("    error: \(error)") }
            if r.resultJSON != "[]" { lines.append("    result: \(r.resultJSON)") }
        }
        invocation.print(lines.joined(separator: "\n"))
    }

    static let everyRun = Flag("every-run", help: "Announce CERTIFICATE_EXPIRING for every expiring certificate, not only those that reached a new ladder step.")

    static let scan = Command(
        "scan", abstract: "Run the \"certificate expiring\" monitoring task now.",
        discussion: """
            Updates certificate statuses (VALID → EXPIRING → EXPIRED, with CERTIFICATE_STATUS_CHANGED), emits \
            CERTIFICATE_EXPIRING for certificates inside their profile's threshold without a valid replacement, \
            raises and resolves expiry alerts, and emits SCHEDULED_JOB_FINISHED. The scheduler runs it hourly.
            """,
        options: CommandContext.options + [everyRun]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let task = ReportedTask(CertificateExpiryTask(scan: CertificateExpiryScan(announceEveryRun: invocation[everyRun])))
        let summary = try CommandProgress(context).ticking("scanning certificate expiries") { try task.run(connection) }
        try context.emit(text: summary, json: ["summary": .string(summary)])
    }

    static let follow = Flag("follow", help: "Keep running: dispatch as events arrive (NOTIFY), until interrupted.")

    static let dispatch = Command(
        "dispatch", abstract: "Run event triggers for pending events (once, or continuously with --follow).",
        discussion: "`certbus serve` runs the dispatcher; this runs one on its own, e.g. next to psql-only writers.",
        options: CommandContext.options + [follow]
    ) { invocation in
        let context = CommandContext(invocation)
        if !invocation[follow] {
            let connection = try context.connect(applicationName: "certbus-event-dispatcher")
            defer { connection.close() }
            let summary = try EventDispatcher().drain(on: connection)
            try context.emit(
                text: "dispatched \(summary.events) events: \(summary.runs) trigger runs, \(summary.failures) failed",
                json: ["events": .int(summary.events), "runs": .int(summary.runs), "failures": .int(summary.failures)])
            return
        }
        let service = EventDispatcherService(configuration: try context.configuration(), log: .standardError())
        try service.start()
        let (_, handler) = await SignalHandler.waitForShutdown()
        service.stop(grace: 10)
        handler.cancel()
        let totals = service.totals
        invocation.print("dispatched \(totals.events) events: \(totals.runs) trigger runs, \(totals.failures) failed")
    }

    static let olderThan = Option<Int>(
        "older-than", valueName: "days",
        help: "Delete events emitted more than this many days ago (default: $CERTBUS_EVENT_RETENTION_DAYS, else 90).")
    static let dryRun = Flag("dry-run", help: "Only count the events that would be deleted.")

    static let prune = Command(
        "prune", abstract: "Delete events past their retention now (the scheduler does it hourly).",
        discussion: """
            Deletes DISPATCHED events older than --older-than days, 1,000 per transaction, with their finished \
            trigger runs; notification deliveries keep their rows. PENDING events and events with a trigger run \
            still RETRYING are kept. The scheduler's event-retention task does the same every hour with \
            CERTBUS_EVENT_RETENTION_DAYS (default 90; 0 turns the task off). The audit log is not touched.
            """,
        options: CommandContext.options + [olderThan, dryRun]
    ) { invocation in
        let context = CommandContext(invocation)
        let days: Int
        if let asked = invocation[olderThan] {
            days = asked
        } else {
            let policy: EventRetentionPolicy
            do {
                policy = try EventRetentionPolicy.from(environment: ProcessInfo.processInfo.environment)
            } catch {
                throw CommandFailure(String(describing: error))
            }
            guard let configured = policy.days else {
                throw UsageError("\(EventRetentionPolicy.environmentVariable)=0 keeps events forever; give --older-than DAYS to prune anyway")
            }
            days = configured
        }
        guard (1...36_500).contains(days) else { throw UsageError("--older-than must be between 1 and 36500 days") }
        let connection = try context.connect()
        defer { connection.close() }
        let retention = EventRetention(days: days, maximumBatchesPerRun: Int.max)
        if invocation[dryRun] {
            let n = try retention.countPastRetention(on: connection)
            try context.emit(
                text: "\(n) events are older than \(days) days and would be deleted",
                json: ["would_delete": .int(n), "older_than_days": .int(days), "dry_run": .bool(true)])
            return
        }
        let progress = CommandProgress(context)
        let candidates = progress.isDrawing ? try retention.countPastRetention(on: connection) : nil
        let deleted = try retention.prune(on: connection) { total in
            progress.count("deleting events older than \(days) days", done: total, total: candidates, unit: "events")
        }
        progress.finish()
        try context.emit(
            text: "deleted \(deleted) events older than \(days) days",
            json: ["deleted": .int(deleted), "older_than_days": .int(days), "dry_run": .bool(false)])
    }
}
