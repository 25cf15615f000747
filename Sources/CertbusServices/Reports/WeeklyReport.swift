import Foundation
import Postgres

/// The weekly operations report (the seed's weekly routine): certificates issued, renewed,
/// revoked and expired per week, upcoming expiries by week, job failure patterns by kind and
/// error, alert volume by severity, and the time renewals take. Read from the functions of
/// sql/093 over a time range, so that every query reads an index range, all in one
/// read-only snapshot.
public enum WeeklyReport {
    /// Weeks of history shown by default (the current week included).
    public static let defaultWeeks = 8
    /// Weeks of upcoming expiries shown by default (the current week included).
    public static let defaultWeeksAhead = 8
    /// The most weeks either way (ten years).
    public static let maximumWeeks = 520
    /// Failure patterns listed at most (the most frequent first).
    public static let patternLimit = 25

    /// The functions the report reads (all from sql/093).
    static let functions = [
        "report_certificate_weeks", "report_upcoming_expiries", "report_job_attempts_by_week",
        "report_job_failure_patterns", "report_alert_volume", "report_alert_patterns", "report_renewal_times",
    ]

    /// Reads the report for the last `weeks` weeks (the current one included) and the
    /// expiries of the next `weeksAhead` weeks (the current one included). `progress` hears
    /// the name of each section just before it is read (nothing else happens in between). Throws `ReportError` for a week count
    /// outside 1…520 or a database without the sql/093 functions.
    public static func load(
        on connection: Connection, weeks: Int = defaultWeeks, weeksAhead: Int = defaultWeeksAhead,
        progress: (String) -> Void = { _ in }
    ) throws -> OperationsReport {
        for (name, value) in [("weeks", weeks), ("weeks ahead", weeksAhead)] where !(1...maximumWeeks).contains(value) {
            throw ReportError("the number of \(name) must be between 1 and \(maximumWeeks), not \(value)")
        }
        return try ReportQuery.snapshot(on: connection) { c in
            for function in functions {
                try ReportQuery.requireFunction("certbus.\(function)(timestamptz,timestamptz)", on: c)
            }
            let period = try c.query(
                """
                SELECT now() AS until, date_trunc('week', now()) - make_interval(weeks => $1) AS since,
                       date_trunc('week', now()) + make_interval(weeks => $2) AS horizon
                """, [weeks - 1, weeksAhead])[0]
            let since: Date = try period.decode("since")
            let until: Date = try period.decode("until")
            let horizon: Date = try period.decode("horizon")
            var sections: [ReportSection] = []
            for (title, load) in sectionLoaders {
                progress(title)
                sections.append(try load(c, since, until, horizon))
            }
            return OperationsReport(
                kind: .weekly, title: "certbus weekly report", generatedAt: until, periodStart: since, periodEnd: until,
                figures: figures(sections), sections: sections)
        }
    }

    typealias SectionLoader = @Sendable (Connection, Date, Date, Date) throws -> ReportSection

    /// One loader per section, in page order, with what the progress line says while it reads.
    static let sectionLoaders: [(String, SectionLoader)] = [
        ("certificate trends", certificateTrends), ("upcoming expiries", upcomingExpiries),
        ("job attempts by week", jobAttempts), ("job failure patterns", jobFailurePatterns),
        ("alert volume", alertVolume), ("alert patterns", alertPatterns), ("time to renew", renewalTimes),
    ]

    static func certificateTrends(_ c: Connection, since: Date, until: Date, horizon: Date) throws -> ReportSection {
        var section = try ReportQuery.section(
            id: "certificate_trends", title: "Certificates issued, renewed, revoked and expired per week",
            summary: "New certificates, renewals (issued with a predecessor), revocations and expiries of unrevoked "
                + "certificates per week. An expiry without a successor issued before it is an outage; "
                + "failed attempts count every failed ISSUE_CERT or RENEW_CERT attempt, retried or final.",
            source: "certbus.report_certificate_weeks",
            columns: [
                .init("week_starting", .day, label: "Week of"), .init("issued", .integer), .init("renewed", .integer),
                .init("revoked", .integer), .init("expired", .integer),
                .init("expired_without_successor", .integer), .init("discovered", .integer),
                .init("imported", .integer), .init("issuance_failed_attempts", .integer),
                .init("renewal_failed_attempts", .integer),
            ],
            sql: "SELECT * FROM certbus.report_certificate_weeks($1, $2)", [since, until], on: c)
        section.chart = .columns(
            of: section, title: "Certificates per week", style: .groupedBars, category: "week_starting",
            series: [("issued", "Issued", .neutral), ("renewed", "Renewed", .good), ("revoked", "Revoked", .warning),
                     ("expired", "Expired", .critical)],
            unit: "certificates")
        return section
    }

    static func upcomingExpiries(_ c: Connection, since: Date, until: Date, horizon: Date) throws -> ReportSection {
        var section = try ReportQuery.section(
            id: "upcoming_expiries", title: "Upcoming expiries by week",
            summary: "Valid certificates by the week they expire in, from now on: already renewed (a valid successor "
                + "exists), awaiting automatic renewal, and without automatic renewal (imported, discovered, or a "
                + "profile without auto-renew): those need a person.",
            source: "certbus.report_upcoming_expiries",
            columns: [
                .init("week_starting", .day, label: "Week of"), .init("expiring", .integer),
                .init("renewed", .integer, label: "Already renewed"), .init("awaiting_automatic_renewal", .integer),
                .init("without_automatic_renewal", .integer),
            ],
            sql: "SELECT * FROM certbus.report_upcoming_expiries($1, $2)", [until, horizon], on: c)
        section.chart = .columns(
            of: section, title: "Certificates expiring per week", style: .stackedBars, category: "week_starting",
            series: [("renewed", "Already renewed", .good),
                     ("awaiting_automatic_renewal", "Awaiting automatic renewal", .neutral),
                     ("without_automatic_renewal", "Without automatic renewal", .critical)],
            unit: "certificates")
        return section
    }

    static func jobAttempts(_ c: Connection, since: Date, until: Date, horizon: Date) throws -> ReportSection {
        var section = try ReportQuery.section(
            id: "job_attempts_by_week", title: "Job attempts and failures per week by kind",
            summary: "Every finished job attempt, per week and kind: a failed attempt is one that was retried, "
                + "failed the job for good, or was lost with its worker (lease expired); cancelled is an operator's "
                + "choice, not a failure.",
            source: "certbus.report_job_attempts_by_week",
            columns: [
                .init("week_starting", .day, label: "Week of"), .init("kind", .text), .init("attempts", .integer),
                .init("succeeded", .integer), .init("failed_attempts", .integer), .init("retried", .integer),
                .init("failed_for_good", .integer), .init("lease_expired", .integer), .init("cancelled", .integer),
                .init("failure_percent", .decimal, label: "Failure %"), .init("most_common_error", .text),
            ],
            sql: "SELECT * FROM certbus.report_job_attempts_by_week($1, $2)", [since, until], on: c)
        let weeks = try c.query(
            "SELECT week::date::text AS week FROM certbus.report_weeks($1, $2)", [since, until]
        ).map { try $0.decode("week", as: String.self) }
        section.chart = .pivot(
            section, title: "Failed job attempts per week by kind", style: .stackedBars, category: "week_starting",
            seriesColumn: "kind", value: "failed_attempts", unit: "failed attempts", allCategories: weeks)
        return section
    }

    static func jobFailurePatterns(_ c: Connection, since: Date, until: Date, horizon: Date) throws -> ReportSection {
        try ReportQuery.section(
            id: "job_failure_patterns", title: "Job failure patterns by kind and error",
            summary: "Failed attempts of the period grouped by kind and error pattern (ids become <id> and numbers N), "
                + "most frequent first: a pattern with many attempts but few jobs is one job retrying; many jobs is "
                + "a systemic problem.",
            source: "certbus.report_job_failure_patterns",
            columns: [
                .init("kind", .text), .init("error_pattern", .text), .init("failed_attempts", .integer),
                .init("jobs", .integer), .init("final_failures", .integer), .init("lease_expiries", .integer),
                .init("first_seen", .timestamp), .init("last_seen", .timestamp),
            ],
            sql: """
                SELECT p.*, count(*) OVER () AS total_rows FROM certbus.report_job_failure_patterns($1, $2) p
                 ORDER BY p.failed_attempts DESC, p.kind, p.error_pattern LIMIT $3
                """, [since, until, patternLimit], on: c)
    }

    static func alertVolume(_ c: Connection, since: Date, until: Date, horizon: Date) throws -> ReportSection {
        var section = try ReportQuery.section(
            id: "alert_volume", title: "Alert volume by severity per week",
            summary: "Alerts raised per week by severity (expiry alerts are WARN, ERROR on the last step of the "
                + "ladder, and are also counted apart), how many of them are still open or unread, and the mean "
                + "hours until the resolved ones were resolved.",
            source: "certbus.report_alert_volume",
            columns: [
                .init("week_starting", .day, label: "Week of"), .init("raised", .integer),
                .init("error_raised", .integer, label: "ERROR"), .init("warn_raised", .integer, label: "WARN"),
                .init("expiring_soon_raised", .integer, label: "Of which expiry alerts"), .init("still_open", .integer),
                .init("still_unread", .integer), .init("mean_hours_to_resolve", .decimal),
            ],
            sql: "SELECT * FROM certbus.report_alert_volume($1, $2)", [since, until], on: c)
        section.chart = .columns(
            of: section, title: "Alerts raised per week by severity", style: .stackedBars, category: "week_starting",
            series: [("error_raised", "ERROR", .critical), ("warn_raised", "WARN", .warning)], unit: "alerts")
        return section
    }

    static func alertPatterns(_ c: Connection, since: Date, until: Date, horizon: Date) throws -> ReportSection {
        try ReportQuery.section(
            id: "alert_patterns", title: "Alert patterns",
            summary: "Alerts of the period by type, severity and the kind of object concerned, most raised first. "
                + "Many alerts for few objects (see the most raised for one object) is a recurring problem.",
            source: "certbus.report_alert_patterns",
            columns: [
                .init("alert_type", .text), .init("severity", .text), .init("entity_type", .text, label: "Concerning"),
                .init("raised", .integer), .init("distinct_entities", .integer, label: "Objects"),
                .init("most_for_one_entity", .integer, label: "Most for one object"), .init("still_open", .integer),
                .init("still_unread", .integer), .init("mean_hours_to_resolve", .decimal),
            ],
            sql: "SELECT * FROM certbus.report_alert_patterns($1, $2)", [since, until], on: c)
    }

    static func renewalTimes(_ c: Connection, since: Date, until: Date, horizon: Date) throws -> ReportSection {
        var section = try ReportQuery.section(
            id: "renewal_times", title: "Mean time to renew",
            summary: "For renewals issued each week: hours from the first renewal request for the old certificate "
                + "(made when its first RENEW_CERT job runs) to the new certificate, retries, backoff and approvals "
                + "included; and how many days the old certificate still had left.",
            source: "certbus.report_renewal_times",
            columns: [
                .init("week_starting", .day, label: "Week of"), .init("renewals", .integer),
                .init("renewals_timed", .integer), .init("mean_hours_to_renew", .decimal),
                .init("p90_hours_to_renew", .decimal, label: "90th percentile hours"),
                .init("max_hours_to_renew", .decimal), .init("mean_days_left_at_renewal", .decimal),
                .init("renewed_after_expiry", .integer),
            ],
            sql: "SELECT * FROM certbus.report_renewal_times($1, $2)", [since, until], on: c)
        section.chart = .columns(
            of: section, title: "Hours to renew per week", style: .lines, category: "week_starting",
            series: [("mean_hours_to_renew", "Mean", .neutral), ("p90_hours_to_renew", "90th percentile", .warning)],
            unit: "hours")
        return section
    }

    /// The headline numbers, from the sections: totals over the period, the overall mean
    /// time to renew (the weekly means weighted by their timed renewals) and what needs a
    /// person soon.
    static func figures(_ sections: [ReportSection]) -> [OperationsReport.Figure] {
        func section(_ id: String) -> ReportSection? { sections.first { $0.id == id } }
        func total(_ id: String, _ column: String) -> ReportValue {
            guard let section = section(id) else { return .null }
            return .integer(Int(section.total(of: column)))
        }
        var meanHours = ReportValue.null
        if let renewals = section("renewal_times") {
            let pairs = zip(renewals.values(of: "mean_hours_to_renew"), renewals.values(of: "renewals_timed"))
                .compactMap { mean, count -> (Double, Double)? in
                    guard let mean = mean.number, let count = count.number, count > 0 else { return nil }
                    return (mean * count, count)
                }
            let count = pairs.map(\.1).reduce(0, +)
            if count > 0 { meanHours = .decimal((pairs.map(\.0).reduce(0, +) / count * 10).rounded() / 10) }
        }
        func attention(_ value: ReportValue) -> Bool { (value.number ?? 0) > 0 }
        let expiredUnreplaced = total("certificate_trends", "expired_without_successor")
        let failedForGood = total("job_attempts_by_week", "failed_for_good")
        let unattended = total("upcoming_expiries", "without_automatic_renewal")
        return [
            .init(id: "issued", label: "Certificates issued", value: total("certificate_trends", "issued")),
            .init(id: "renewed", label: "Certificates renewed", value: total("certificate_trends", "renewed")),
            .init(id: "revoked", label: "Certificates revoked", value: total("certificate_trends", "revoked")),
            .init(id: "expired_without_successor", label: "Expired without a successor", value: expiredUnreplaced,
                  needsAttention: attention(expiredUnreplaced)),
            .init(id: "failed_attempts", label: "Failed job attempts", value: total("job_attempts_by_week", "failed_attempts")),
            .init(id: "jobs_failed_for_good", label: "Jobs failed for good", value: failedForGood,
                  needsAttention: attention(failedForGood)),
            .init(id: "error_alerts", label: "ERROR alerts raised", value: total("alert_volume", "error_raised")),
            .init(id: "mean_hours_to_renew", label: "Mean time to renew", value: meanHours, unit: "h"),
            .init(id: "expiring_without_automatic_renewal", label: "Expiring soon without automatic renewal",
                  value: unattended, needsAttention: attention(unattended)),
        ]
    }
}
