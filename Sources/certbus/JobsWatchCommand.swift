import CertbusArguments
import CertbusBus
import CertbusCore
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `certbus jobs watch`: the queue live, per kind, with the jobs that ended FAILED.
enum JobsWatchCommand {
    static let kinds = Option<String>("kind", valueName: "kind", repeatable: true, help: "Only this kind, e.g. ISSUE_CERT.")
    static let interval = Option<Double>(
        "interval", valueName: "seconds", default: 2,
        help: "Read again this often when no NOTIFY comes (claims, completions and failures send none); 0.2 to 60.")
    static let duration = Option<TimeSpan>("for", valueName: "duration", help: "Stop after this long (default: until interrupted).")

    static let command = Command(
        "watch", abstract: "Show the queue live: due, scheduled, running and failed jobs per kind, and new failures.",
        discussion: """
            Refreshed at once by NOTIFY certbus_jobs when jobs are enqueued, and every --interval seconds for \
            the rest (claims, completions and failures send no notification, to keep the queue's commits \
            fast). On a terminal the view is redrawn in place; piped, it prints the table once and then one line \
            per kind that changed and per job that ended FAILED; with --json, one JSON object per change \
            (every kind's counts, which changed, the new failures). Lists the jobs that failed in the hour \
            before it started and since. Survives a database restart. Stops on Ctrl-C or after --for.
            """,
        options: CommandContext.options + [kinds, interval, duration]
    ) { invocation in
        let context = CommandContext(invocation)
        let kindFilter = try invocation.values(kinds).map { try JobsCommands.parseKind($0) }
        let seconds = invocation[interval]!
        guard (0.2...60).contains(seconds) else { throw UsageError("--interval must be between 0.2 and 60 seconds") }
        let deadline = invocation[duration].map { Date().addingTimeInterval($0.timeInterval) }
        let connection = try context.connect(applicationName: "certbus-jobs-watch")
        defer { connection.close() }
        if !kindFilter.isEmpty {
            let known = try connection.query("SELECT kind FROM certbus.job_kinds ORDER BY kind").map { try $0.decode("kind", as: String.self) }
            if let unknown = kindFilter.first(where: { !known.contains($0.rawValue) }) {
                throw UsageError("--kind: unknown job kind '\(unknown)' (known kinds: \(known.joined(separator: ", ")))")
            }
        }
        let started = Date()
        let watch = JobQueueWatch(
            connection: connection, kinds: kindFilter.isEmpty ? nil : kindFilter, pollInterval: seconds,
            failuresSince: started.addingTimeInterval(-3600))
        let mode: JobsWatchOutput.Mode = context.json ? .json : (isatty(1) == 1 ? .screen : .lines)
        var shown = try watch.start()
        func show(_ summary: JobQueueSummary, after previous: JobQueueSummary?) throws {
            invocation.output.write(try JobsWatchOutput.render(summary, after: previous, mode: mode, interval: seconds, now: Date()))
        }
        try show(shown, after: nil)
        try LiveView.run(connection: connection, deadline: deadline, errorOutput: invocation.errorOutput) {
            let summary = try watch.start()
            if summary != shown {
                try show(summary, after: shown)
                shown = summary
            }
        } step: { timeout, wake in
            if let summary = try watch.next(timeout: timeout, wakeDescriptor: wake) {
                try show(summary, after: shown)
                shown = summary
            }
        }
    }
}

/// How `jobs watch` prints a summary (pure, so it is tested without a terminal).
enum JobsWatchOutput {
    enum Mode {
        /// A terminal: clear and redraw the whole view.
        case screen
        /// A pipe or file: the table once, then one line per change.
        case lines
        /// One JSON object per change.
        case json
    }

    static func render(_ summary: JobQueueSummary, after previous: JobQueueSummary?, mode: Mode, interval: Double, now: Date) throws -> String {
        switch mode {
        case .screen:
            return "\u{1B}[H\u{1B}[2J" + header(now, interval) + "\n\n" + table(summary) + failures(summary.failures)
        case .lines:
            guard let previous else { return header(now, interval) + "\n" + table(summary) + failures(summary.failures) }
            let time = ISODate.format(now)
            var out = summary.changedKinds(since: previous).map { k in
                "\(time)  \(k.kind)  due \(k.due)  scheduled \(k.scheduled)  running \(k.running)  failed \(k.failed)"
                    + (k.oldestDueSeconds.map { "  oldest waiting \(wait($0))" } ?? "") + "\n"
            }.joined()
            out += summary.newFailures(since: previous).reversed().map { f in
                "\(time)  FAILED  job \(f.jobId)  \(f.kind)  attempt \(f.attempt): \(oneLine(f.error))\n"
            }.joined()
            return out
        case .json:
            let changed = previous.map { summary.changedKinds(since: $0).map(\.kind) } ?? summary.kinds.map(\.kind)
            let failures = previous.map { summary.newFailures(since: $0) } ?? summary.failures
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            let line = Line(time: now, kinds: summary.kinds, changed: changed, newFailures: failures)
            return String(decoding: try encoder.encode(line), as: UTF8.self) + "\n"
        }
    }

    struct Line: Encodable {
        var time: Date
        var kinds: [JobQueueSummary.KindCounts]
        var changed: [String]
        var newFailures: [JobQueueSummary.Failure]
        enum CodingKeys: String, CodingKey {
            case time, kinds, changed
            case newFailures = "new_failures"
        }
    }

    static func header(_ now: Date, _ interval: Double) -> String {
        "jobs at \(ISODate.format(now)) (refreshed on NOTIFY certbus_jobs and every \(number(interval)) s; Ctrl-C to stop)"
    }

    static func table(_ summary: JobQueueSummary) -> String {
        if summary.kinds.isEmpty { return "no jobs queued, running or failed\n" }
        return TableFormatter([
            .init("KIND"), .init("DUE", alignment: .right), .init("SCHEDULED", alignment: .right),
            .init("RUNNING", alignment: .right), .init("FAILED", alignment: .right), .init("OLDEST WAITING", alignment: .right),
        ]).render(summary.kinds.map { k in
            [k.kind, String(k.due), String(k.scheduled), String(k.running), String(k.failed), k.oldestDueSeconds.map(wait) ?? "-"]
        })
    }

    static func failures(_ failures: [JobQueueSummary.Failure]) -> String {
        guard !failures.isEmpty else { return "" }
        return "\nended FAILED (newest first):\n" + failures.map { f in
            "  \(ISODate.format(f.completedAt))  job \(f.jobId)  \(f.kind)  attempt \(f.attempt): \(oneLine(f.error))\n"
        }.joined()
    }

    static func wait(_ seconds: Double) -> String { ProgressLine.duration(max(0, seconds)) }

    static func oneLine(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > 120 ? String(flat.prefix(119)) + "…" : flat
    }

    /// 2 → "2", 0.5 → "0.5".
    private static func number(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
