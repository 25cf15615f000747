import Foundation
import Postgres

/// The daily operations report (the seed's daily routine): the day's headline numbers, unread
/// ERROR alerts, jobs that failed in the last day, running jobs longest first, and the queue
/// depth by kind. Read from the views of sql/012, 044 and 090 in one read-only snapshot.
public enum DailyReport {
    /// Rows listed at most per section (the views hold all of them).
    public static let rowLimit = 200

    /// The views the report reads.
    static let views = ["daily_operations_summary", "unread_error_alerts", "failed_jobs_last_day", "running_jobs", "queue_depth"]

    /// Reads the report; `progress` hears the name of each part just before it is read.
    /// Throws `ReportError` for a database without the reporting views.
    public static func load(on connection: Connection, progress: (String) -> Void = { _ in }) throws -> OperationsReport {
        try ReportQuery.snapshot(on: connection) { c in
            for view in views { try ReportQuery.requireView(view, on: c) }
            let period = try c.query("SELECT now() - interval '1 day' AS since, now() AS until")[0]
            let since: Date = try period.decode("since")
            let until: Date = try period.decode("until")
            progress("summary")
            let summary = try c.query("SELECT * FROM certbus.daily_operations_summary")[0]
            var figures: [OperationsReport.Figure] = []
            for (id, label, attention) in summaryFigures {
                let value = try ReportColumn(id, .integer).value(fromDatabaseText: summary.text(id))
                figures.append(.init(id: id, label: label, value: value, needsAttention: attention && (value.number ?? 0) > 0))
            }
            var sections: [ReportSection] = []
            for (title, load) in [("unread ERROR alerts", unreadErrorAlerts), ("failed jobs", failedJobs),
                                  ("running jobs", runningJobs), ("queue depth", queueDepth)] {
                progress(title)
                sections.append(try load(c))
            }
            return OperationsReport(
                kind: .daily, title: "certbus daily report", generatedAt: until, periodStart: since, periodEnd: until,
                figures: figures, sections: sections)
        }
    }

    /// The columns of certbus.daily_operations_summary shown as headline numbers, and whether a
    /// non-zero value needs attention.
    static let summaryFigures: [(String, String, Bool)] = [
        ("unread_error_alerts", "Unread ERROR alerts", true),
        ("open_alerts", "Open alerts", false),
        ("jobs_failed_last_day", "Jobs failed in the last day", true),
        ("jobs_running", "Jobs running", false),
        ("jobs_running_over_15_minutes", "Running for over 15 minutes", true),
        ("jobs_waiting", "Jobs waiting for a worker", false),
        ("certificates_expiring_within_30_days", "Certificates expiring within 30 days", false),
        ("certificates_expired", "Certificates expired (not revoked)", true),
    ]

    static func unreadErrorAlerts(_ c: Connection) throws -> ReportSection {
        try ReportQuery.section(
            id: "unread_error_alerts", title: "Unread ERROR alerts",
            summary: "ERROR alerts nobody has marked read, newest first; still open means the cause is not gone. "
                + "Mark them read with certbus alerts read ID.",
            source: "certbus.unread_error_alerts",
            columns: [
                .init("id", .integer), .init("alert_type", .text), .init("title", .text), .init("message", .text),
                .init("entity_type", .text), .init("entity_id", .text), .init("created_at", .timestamp, label: "Raised"),
                .init("still_open", .flag),
            ],
            sql: """
                SELECT id, alert_type, title, message, entity_type, entity_id, created_at, still_open,
                       count(*) OVER () AS total_rows
                  FROM certbus.unread_error_alerts ORDER BY created_at DESC, id DESC LIMIT $1
                """, [rowLimit], on: c)
    }

    static func failedJobs(_ c: Connection) throws -> ReportSection {
        try ReportQuery.section(
            id: "failed_jobs_last_day", title: "Jobs failed in the last day",
            summary: "Jobs that ended FAILED in the last 24 hours, newest first, with the error of their last attempt "
                + "(every attempt's error is in certbus.job_attempts). Retry one with certbus jobs retry ID.",
            source: "certbus.failed_jobs_last_day",
            columns: [
                .init("id", .integer), .init("kind", .text), .init("name", .text), .init("attempt", .integer),
                .init("max_attempts", .integer), .init("completed_at", .timestamp, label: "Failed at"),
                .init("error", .text),
            ],
            sql: """
                SELECT id, kind, name, attempt, max_attempts, completed_at, error, count(*) OVER () AS total_rows
                  FROM certbus.failed_jobs_last_day ORDER BY completed_at DESC, id DESC LIMIT $1
                """, [rowLimit], on: c)
    }

    static func runningJobs(_ c: Connection) throws -> ReportSection {
        try ReportQuery.section(
            id: "running_jobs", title: "Running jobs, longest first",
            summary: "Jobs RUNNING now and for how long; a negative lease left means the worker stopped extending "
                + "its lease and the rescuer will take the job back.",
            source: "certbus.running_jobs",
            columns: [
                .init("id", .integer), .init("kind", .text), .init("name", .text), .init("attempt", .integer),
                .init("locked_by", .text, label: "Worker"), .init("started_at", .timestamp),
                .init("running_for", .text), .init("lease_left", .text), .init("cancel_requested", .flag),
            ],
            sql: """
                SELECT id, kind, name, attempt, locked_by, started_at, date_trunc('second', running_for)::text AS running_for,
                       date_trunc('second', lease_left)::text AS lease_left, cancel_requested_at IS NOT NULL AS cancel_requested,
                       count(*) OVER () AS total_rows
                  FROM certbus.running_jobs ORDER BY started_at, id LIMIT $1
                """, [rowLimit], on: c)
    }

    static func queueDepth(_ c: Connection) throws -> ReportSection {
        var section = try ReportQuery.section(
            id: "queue_depth", title: "Queue depth by kind",
            summary: "Unfinished jobs per kind and queue: due (waiting for a worker now), scheduled for later, and "
                + "running; a long oldest wait means too few workers for that kind.",
            source: "certbus.queue_depth",
            columns: [
                .init("kind", .text), .init("queue", .text), .init("queued", .integer), .init("due", .integer),
                .init("scheduled_later", .integer), .init("running", .integer),
                .init("oldest_due_waiting", .text, label: "Oldest due job waiting"),
                .init("next_scheduled_at", .timestamp),
            ],
            sql: """
                SELECT kind, queue, queued, due, queued - due AS scheduled_later, running,
                       date_trunc('second', oldest_due_waiting)::text AS oldest_due_waiting, next_scheduled_at
                  FROM certbus.queue_depth ORDER BY kind, queue
                """, [], on: c)
        var chart = ReportChart.columns(
            of: section, title: "Unfinished jobs by kind", style: .stackedBars, category: "kind",
            series: [("due", "Due", .warning), ("scheduled_later", "Scheduled later", .muted), ("running", "Running", .good)],
            unit: "jobs")
        let queues = section.values(of: "queue").map(\.displayText)
        chart.categories = zip(chart.categories, queues).map { kind, queue in queue == "default" ? kind : "\(kind) (\(queue))" }
        section.chart = chart
        return section
    }
}
