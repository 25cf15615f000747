import CertbusArguments
import CertbusServices
import Foundation
import Postgres

extension ReportFormat: ArgumentValue {}

/// `certbus report daily|weekly`: the seed's daily and weekly routines as text tables, one
/// self-contained HTML page with charts, CSV or JSON (data and rendering in
/// CertbusServices/Reports; this file parses options and writes the result).
enum ReportCommands {
    static let format = Option<ReportFormat>(
        "format", valueName: "format", default: .table,
        help: "table (text for a terminal), html (one self-contained page with charts), csv (one file; a section column says which table a row belongs to) or json.")
    static let out = Option<String>(
        "out", short: "o", valueName: "file",
        help: "Write to this file instead of standard output (replaced atomically; - is standard output).")
    static let section = Option<String>(
        "section", valueName: "id", repeatable: true,
        help: "Only this part of the report (repeatable or comma-separated; 'figures' is the key figures). Unknown ids are listed in the error.")
    static let weeks = Option<Int>(
        "weeks", valueName: "n", default: WeeklyReport.defaultWeeks,
        help: "How many weeks of history, the current one included (1 to \(WeeklyReport.maximumWeeks)).")
    static let ahead = Option<Int>(
        "ahead", valueName: "n", default: WeeklyReport.defaultWeeksAhead,
        help: "How many weeks of upcoming expiries, the current one included (1 to \(WeeklyReport.maximumWeeks)).")

    static let shared: [any OptionDeclaration] = CommandContext.options + [format, out, section]

    static let daily = Command(
        "daily", abstract: "Daily routine: key figures, unread ERROR alerts, failed jobs, long-running jobs, queue depth.",
        discussion: """
            Reads the views daily_operations_summary, unread_error_alerts, failed_jobs_last_day, running_jobs and \
            queue_depth in one snapshot; lists show at most \(DailyReport.rowLimit) rows (the views hold all). \
            Example: certbus report daily --format html --out daily.html
            """,
        options: shared
    ) { invocation in
        try run(invocation) { connection, progress in try DailyReport.load(on: connection, progress: progress) }
    }

    static let weekly = Command(
        "weekly", abstract: "Weekly routine: certificates per week, upcoming expiries, job failure patterns, alert volume, time to renew.",
        discussion: """
            Reads the functions certbus.report_* of sql/093 over the last --weeks weeks (index ranges, one \
            snapshot). Mean time to renew runs from the first renewal request for a certificate to its \
            successor's issuance (docs/operations.md). \
            Example: certbus report weekly --format html --out report.html
            """,
        options: shared + [weeks, ahead]
    ) { invocation in
        let history = try invocation.value(weeks)
        let upcoming = try invocation.value(ahead)
        for (option, value) in [("--weeks", history), ("--ahead", upcoming)] where !(1...WeeklyReport.maximumWeeks).contains(value) {
            throw UsageError("\(option) must be between 1 and \(WeeklyReport.maximumWeeks), not \(value)")
        }
        try run(invocation) { connection, progress in
            try WeeklyReport.load(on: connection, weeks: history, weeksAhead: upcoming, progress: progress)
        }
    }

    static let sampleCertificates = Option<Int>("certificates", valueName: "n", default: 3_000, help: "About how many certificates.")
    static let sampleJobs = Option<Int>("jobs", valueName: "n", default: 30_000, help: "Finished jobs of the last 12 weeks (with their attempts).")
    static let force = Flag("force", help: "Insert even though the database already holds more than 10 certificates.")

    static let sample = Command(
        "sample", abstract: "Fill a scratch database with synthetic history, to try the reports.",
        discussion: """
            Inserts certificate lines renewed over 400 days (with renewal requests), finished jobs of the last 12 \
            weeks with retries and failures, and alerts, directly as rows: the certificates carry no real PEM, so \
            never do this in a database that serves real certificates. Refuses a database with more than 10 \
            certificates unless --force, and one that already holds the sample. Used for docs/weekly-report.png \
            (scripts/report-screenshot) and by certbus bench report.
            """,
        options: CommandContext.options + [sampleCertificates, sampleJobs, force]
    ) { invocation in
        let context = CommandContext(invocation)
        let data = ReportSampleData(certificates: try invocation.value(sampleCertificates), jobs: try invocation.value(sampleJobs))
        guard data.certificates > 0, data.certificates <= 10_000_000, (0...100_000_000).contains(data.jobs) else {
            throw UsageError("--certificates must be between 1 and 10000000 and --jobs between 0 and 100000000")
        }
        let connection = try context.connect(applicationName: "certbus-report")
        defer { connection.close() }
        let existing = try connection.query("SELECT count(*)::int AS n FROM certbus.certificates")[0].decode("n", as: Int.self)
        if existing > 10, !invocation[force] {
            throw CommandFailure("the database already holds \(existing) certificates; the sample is for scratch databases (give --force to insert anyway)")
        }
        let progress = ProgressLine(invocation, quiet: context.json)
        let summary: ReportSampleData.Summary
        do {
            summary = try data.insert(on: connection) { progress.update($0, force: true) }
            progress.finish()
        } catch let error as ReportError {
            progress.finish()
            throw CommandFailure(error.message)
        }
        try context.emit(
            text: "inserted \(summary.certificates) certificates (\(summary.renewals) renewals, \(summary.requests) requests), \(summary.jobs) jobs (\(summary.attempts) attempts), \(summary.alerts) alerts",
            json: ["certificates": .int(summary.certificates), "renewals": .int(summary.renewals), "requests": .int(summary.requests),
                   "jobs": .int(summary.jobs), "attempts": .int(summary.attempts), "alerts": .int(summary.alerts)])
    }

    static let command = Command(
        "report", abstract: "Daily and weekly operations reports: text, an HTML page with charts, CSV or JSON.",
        discussion: """
            Every number comes from a view or function of the certbus schema (named in each section), so a DBA \
            can query the same in psql, e.g. SELECT * FROM certbus.report_certificate_weeks(now() - interval '8 weeks', now())
            """,
        subcommands: [daily, weekly, sample])

    /// Parses the shared options, loads the report with `load` (which reports each section to
    /// the progress line), renders it and writes it to standard output or `--out`.
    static func run(
        _ invocation: Invocation, load: (Connection, (String) -> Void) throws -> OperationsReport
    ) throws {
        let context = CommandContext(invocation)
        let chosen = try outputFormat(invocation, json: context.json)
        let sections = invocation.values(section).flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) } }
        if sections.contains("") { throw UsageError("--section needs a section id, e.g. --section certificate_trends") }
        let destination = invocation[out].flatMap { $0 == "-" ? nil : $0 }
        if let destination {
            if destination.isEmpty { throw UsageError("--out needs a file name (or - for standard output)") }
            do { try ReportFile.checkDestination(destination) } catch { throw CommandFailure(error.message) }
        }

        let connection = try context.connect(applicationName: "certbus-report")
        defer { connection.close() }
        let progress = ProgressLine(invocation, quiet: context.json)
        var report: OperationsReport
        do {
            report = try load(connection) { title in progress.update("reading: \(title)") }
            progress.finish()
            if !sections.isEmpty {
                do { report = try report.selecting(sections: sections) } catch let error as ReportError { throw UsageError(error.message) }
            }
        } catch let error as ReportError {
            progress.finish()
            throw CommandFailure(error.message)
        }

        let text: String
        switch chosen {
        case .table: text = ReportTableText.render(report)
        case .html: text = HTMLReport(report, generator: "certbus \(CertbusVersion.current)").render()
        case .csv: text = CSVReport(report).render()
        case .json: text = try ReportJSON.render(report)
        }
        guard let destination else {
            invocation.output.write(text)
            return
        }
        do {
            try ReportFile.write(text, to: destination)
        } catch {
            throw CommandFailure(error.message)
        }
        if !context.json {
            invocation.printError("wrote the \(report.kind.rawValue) report (\(chosen.rawValue), \(text.utf8.count) bytes) to \(destination)")
        }
    }

    /// The format asked for: `--format`, or json with `--json`; both naming different formats
    /// is a usage error.
    static func outputFormat(_ invocation: Invocation, json: Bool) throws -> ReportFormat {
        let chosen = try invocation.value(format)
        guard json else { return chosen }
        if invocation.isGiven(format), chosen != .json {
            throw UsageError("--json and --format \(chosen.rawValue) ask for different formats; give one of them")
        }
        return .json
    }
}
