import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus incident renew|status|list`: replace everything a compromise exposes before a deadline.
enum IncidentCommands {
    static let command = Command(
        "incident", abstract: "Replace every certificate a compromised key or CA exposes, before a deadline.",
        discussion: """
            `incident renew` selects certificates like `cert list` (--sharing-key-of, --issued-by, --san-matches, \
            --profile, --endpoint, or --selector key=value,...), renews each with a new key, deploys the \
            replacement where the old one was deployed (agents install it; other endpoints are validated), and \
            with --revoke-old revokes each old certificate once its replacement is installed and validated. \
            Running the same command again returns the same incident: it adds certificates that match since \
            and retries failed ones. A running `certbus serve` (or worker and scheduler) does the work.
            """,
        subcommands: [renew, status, list])

    // MARK: renew

    static let deadline = Option<String>(
        "deadline", valueName: "when", required: true,
        help: "When everything should be replaced: a span from now (48h, 7d) or an ISO 8601 time (2025-06-01T12:00:00Z).")
    static let revokeOld = Flag("revoke-old", help: "Revoke each old certificate once its replacement is issued and, where deployed, installed and validated.")
    static let reason = Option<String>(
        "reason", valueName: "reason",
        help: "With --revoke-old: the RFC 5280 reason (keyCompromise, superseded, affiliationChanged, cessationOfOperation, unspecified).")
    static let spread = Option<String>(
        "spread", valueName: "span",
        help: "Start the renewal waves (500 each) over this span (default: a quarter of the time to the deadline, at most 1h; 0s: all at once).")
    static let dryRun = Flag("dry-run", help: "Print the certificates and the schedule; change nothing.")
    static let watch = Flag("watch", help: "Follow the incident live until every certificate is done or failed (exit 1 if some failed).")
    static let all = Flag("all", help: "List every certificate (default: the first 100).")

    static let renew = Command(
        "renew", abstract: "Open an incident (or run it again): renew with new keys everything the selector matches.",
        options: CommandContext.options + SelectorOptions.criteria
            + [SelectorOptions.selectorText, deadline, revokeOld, reason, spread, dryRun, watch, all]
    ) { invocation in
        let context = CommandContext(invocation)
        let selector = try SelectorOptions.selector(invocation, withSelectorText: true)
        guard !selector.isEmpty else {
            throw UsageError("say which certificates: --sharing-key-of ID, --issued-by CA, --san-matches PATTERN, --profile NAME, --endpoint NAME or --selector key=value")
        }
        var request = IncidentRequest(selector: selector, deadline: try parseDeadline(try invocation.value(deadline)),
                                      revokeOld: invocation[revokeOld], revocationReason: invocation[reason])
        if let text = invocation[spread] {
            do { request.spread = try DurationText.parse(text) } catch { throw UsageError("--spread: \(error)") }
        }
        let connection = try context.connect()
        defer { connection.close() }
        if invocation[dryRun] {
            let plan = try translating { try IncidentPlanner.plan(request, on: connection) }
            guard plan.existing != nil || !plan.items.isEmpty else {
                throw CommandFailure("no valid certificate matches \(plan.selection.text); nothing to do")
            }
            try IncidentOutput.dryRun(plan, context: context, all: invocation[all])
            return
        }
        let run = try translating {
            try Incidents.open(request, actor: CertCommandSupport.actor(invocation), on: connection)
        }
        if invocation[watch] {
            if !context.json { invocation.print(IncidentOutput.runSummary(run)) }
            try follow(run.incident.id, invocation: invocation, context: context, connection: connection)
            return
        }
        try context.emit(text: IncidentOutput.runSummary(run), json: IncidentOutput.json(run))
    }

    /// A span from now (48h) or an ISO 8601 time.
    static func parseDeadline(_ text: String, now: Date = Date()) throws -> Date {
        if let span = try? DurationText.parse(text) { return now.addingTimeInterval(span) }
        if let date = ISODate.parse(text) { return date }
        throw UsageError("--deadline: \"\(text)\" is neither a span like 48h or 7d nor an ISO 8601 time like 2025-06-01T12:00:00Z")
    }

    /// Runs `body`, turning the incident errors into usage errors (exit 2) or failures (exit 1).
    static func translating<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as IncidentRequestError {
            throw UsageError(error.message)
        } catch let error as IncidentScheduleError {
            throw UsageError(error.message)
        } catch let error as CertificateSelectionError {
            throw CommandFailure(error.message)
        } catch let error as IncidentNothingToDo {
            throw CommandFailure(error.message)
        } catch let error as IncidentNotFound {
            throw CommandFailure(error.description)
        }
    }

    // MARK: status

    static let idArgument = Argument<Int>("id", help: "The incident number (certbus incident list).")
    static let stateFilter = Option<String>(
        "state", valueName: "outcome", repeatable: true, allowed: ["done", "pending", "failed"],
        help: "Only certificates that are done, pending or failed; repeatable.")

    static let status = Command(
        "status", abstract: "Show an incident: totals and, per certificate, done / pending / failed with the step and reason.",
        options: CommandContext.options + [stateFilter, all, watch], arguments: [idArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let id = Int64(try invocation.value(idArgument))
        let connection = try context.connect()
        defer { connection.close() }
        if invocation[watch] {
            try follow(id, invocation: invocation, context: context, connection: connection, outcomes: invocation.values(stateFilter))
            return
        }
        try show(id, invocation: invocation, context: context, connection: connection, outcomes: invocation.values(stateFilter))
    }

    static func show(_ id: Int64, invocation: Invocation, context: CommandContext, connection: Connection, outcomes: [String]) throws {
        guard let incident = try Incidents.find(id: id, on: connection) else { throw CommandFailure(IncidentNotFound(id).description) }
        let limit = invocation[all] ? nil : 100
        let items = try Incidents.items(of: id, outcomes: outcomes, limit: limit, on: connection)
        if context.json {
            invocation.output.write(try JSONOutput.string(IncidentOutput.json(incident, items: items)))
        } else {
            invocation.print(IncidentOutput.status(incident, items: items, outcomes: outcomes), terminator: "")
        }
    }

    /// Follows incident `id` until it is no longer ACTIVE: a live line on a terminal, a line per change
    /// (at most every 5 s) otherwise, nothing with --json; then its status. Exit 1 when it FAILED.
    static func follow(_ id: Int64, invocation: Invocation, context: CommandContext, connection: Connection, outcomes: [String] = []) throws {
        let watch = IncidentWatch(connection: connection, incidentId: id)
        var incident = try translating { try watch.start() }
        let progress = ProgressLine(invocation, quiet: context.json)
        let started = Date()
        let finishedAtStart = incident.totals.done + incident.totals.failed
        var lastPrinted: (Date, IncidentTotals)?
        while incident.state == "ACTIVE" {
            let line = IncidentOutput.progressLine(incident, finishedSinceStart: incident.totals.done + incident.totals.failed - finishedAtStart,
                                                   elapsed: Date().timeIntervalSince(started))
            if progress.isDrawing {
                progress.update(line)
            } else if !context.json, lastPrinted.map({ $0.1 != incident.totals && Date().timeIntervalSince($0.0) >= 5 }) ?? true {
                invocation.print(CertCommandSupport.time(Date()) + "  " + line)
                lastPrinted = (Date(), incident.totals)
            }
            incident = try watch.next(timeout: 2)
        }
        progress.finish()
        try show(id, invocation: invocation, context: context, connection: connection, outcomes: outcomes)
        if incident.state == "FAILED" {
            throw CommandFailure("incident \(id) finished with \(incident.totals.failed) failed certificate(s)")
        }
    }

    // MARK: list

    static let listState = Option<String>(
        "state", valueName: "state", repeatable: true, allowed: ["ACTIVE", "COMPLETED", "FAILED", "active", "completed", "failed"],
        help: "Only incidents in this state; repeatable.")
    static let limit = Option<Int>("limit", short: "n", default: 50, help: "Show at most this many, newest first.")

    static let list = Command(
        "list", abstract: "List incidents, newest first, with their totals.",
        options: CommandContext.options + [listState, limit]
    ) { invocation in
        let context = CommandContext(invocation)
        guard invocation[limit]! >= 1 else { throw UsageError("--limit must be at least 1") }
        let connection = try context.connect()
        defer { connection.close() }
        let incidents = try Incidents.list(states: invocation.values(listState).map { $0.uppercased() }, limit: invocation[limit]!,
                                           on: connection)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(incidents.map { IncidentOutput.json($0) })))
            return
        }
        guard !incidents.isEmpty else {
            invocation.print("no incidents")
            return
        }
        var table = TableFormatter([.init("ID"), .init("STATE"), .init("SELECTOR", maxWidth: 50), .init("DEADLINE"), .init("DONE"),
                                    .init("PENDING"), .init("FAILED"), .init("OPENED")])
        invocation.print(table.render(incidents.map {
            [String($0.id), $0.state, $0.selectorText, CertCommandSupport.time($0.deadline), String($0.totals.done),
             String($0.totals.pending), String($0.totals.failed), CertCommandSupport.time($0.createdAt)]
        }), terminator: "")
        _ = table
    }
}
