import CertbusArguments
import Foundation
import Postgres

/// `certbus report daily|weekly`: the seed's daily and weekly routines, read from the
/// reporting views of sql/090 (the same views DBAs query in psql).
enum ReportCommands {
    static let weeks = Option<Int>("weeks", valueName: "n", default: 8, help: "How many recent weeks to show.")

    /// The views behind each report, in the order they are printed.
    static let dailyViews = [
        ("Summary", "daily_operations_summary"),
        ("Unread ERROR alerts", "unread_error_alerts"),
        ("Failed jobs (last day)", "failed_jobs_last_day"),
        ("Running jobs, longest first", "running_jobs"),
        ("Queue depth by kind", "queue_depth"),
    ]
    static let weeklyViews = [
        ("Issuance and renewal trends", "weekly_certificate_trends"),
        ("Job failure patterns by week", "weekly_job_failure_patterns"),
        ("Job failure patterns of the last 7 days by error", "job_failure_patterns"),
        ("Alert patterns", "weekly_alert_patterns"),
    ]

    static let daily = Command(
        "daily", abstract: "Daily routine: ERROR alerts, failed jobs, long-running jobs.",
        options: CommandContext.options
    ) { invocation in
        try run(invocation, views: dailyViews, weeks: nil)
    }

    static let weekly = Command(
        "weekly", abstract: "Weekly routine: issuance/renewal trends, job failure patterns, alert patterns.",
        options: CommandContext.options + [weeks]
    ) { invocation in
        try run(invocation, views: weeklyViews, weeks: invocation[weeks])
    }

    static let command = Command(
        "report", abstract: "Daily and weekly operations reports (also SQL views for psql).",
        discussion: "Every report is a view in the certbus schema; export one with psql's \\copy, e.g. \\copy (SELECT * FROM certbus.weekly_certificate_trends) TO 'trends.csv' CSV HEADER",
        subcommands: [daily, weekly])

    static func run(_ invocation: Invocation, views: [(String, String)], weeks: Int?) throws {
        let context = CommandContext(invocation)
        let connection = try context.connect(applicationName: "certbus-report")
        defer { connection.close() }
        var json: [String: JSONValue] = [:]
        var missing: [String] = []
        for (title, view) in views {
            let exists = try connection.query("SELECT to_regclass($1) IS NOT NULL AS present", ["certbus." + view])
            guard try exists[0].decode("present", as: Bool.self) else {
                missing.append(view)
                continue
            }
            // The view name comes from the fixed list above, never from user input.
            var sql = "SELECT * FROM certbus.\(try connection.quoteIdentifier(view))"
            var parameters: [any PostgresEncodable] = []
            if let weeks, view.hasPrefix("weekly_") {
                sql += " WHERE week_starting >= (date_trunc('week', now()) - make_interval(weeks => $1))::date"
                parameters.append(max(0, weeks - 1))
            }
            let result = try connection.query(sql, parameters)
            if context.json {
                json[view] = .array(result.map { row in
                    .object(row.dictionary().mapValues { $0.map(JSONValue.string) ?? .null })
                })
            } else {
                invocation.print("== \(title) (certbus.\(view))")
                if result.isEmpty {
                    invocation.print("(none)\n")
                } else if view == "daily_operations_summary" {
                    let row = result[0]
                    let width = result.columns.map(\.count).max() ?? 0
                    for column in result.columns {
                        let label = column.replacingOccurrences(of: "_", with: " ")
                        invocation.print(label + String(repeating: " ", count: width - column.count + 2) + ((try? row.text(column)).flatMap { $0 } ?? ""))
                    }
                    invocation.print("")
                } else {
                    let table = TableFormatter(result.columns.map { TableFormatter.Column($0.uppercased(), maxWidth: 60) })
                    invocation.print(table.render(result.map { row in result.columns.map { (try? row.text($0)) .flatMap { $0 } ?? "" } }))
                    invocation.print("")
                }
            }
        }
        if missing.count == views.count {
            throw CommandFailure("the database has no reporting views yet (certbus.\(missing[0]) is missing): run 'certbus migrate' first")
        }
        if context.json { invocation.output.write(try JSONOutput.string(JSONValue.object(json))) }
    }
}
