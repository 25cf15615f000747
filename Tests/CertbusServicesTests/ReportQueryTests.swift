@testable import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The report functions of sql/093 and the report loaders, each on a fresh test database
/// (`TestDatabase`, dropped at the end) with hand-made rows at fixed times, so every number
/// is known in advance.
@Suite struct ReportQueryTests {
    /// Rows for the report tests, written directly at chosen times.
    struct Fixtures {
        let c: Connection
        let ca: UUID
        let autoProfile: UUID
        let manualProfile: UUID

        init(_ c: Connection) throws {
            self.c = c
            ca = try c.query("INSERT INTO certbus.certificate_authorities (name, kind) VALUES ('r-ca', 'BUILT_IN') RETURNING id")[0].decode("id")
            autoProfile = try c.query("INSERT INTO certbus.ra_profiles (name, ca_id) VALUES ('r-auto', $1) RETURNING id", [ca])[0].decode("id")
            manualProfile = try c.query(
                "INSERT INTO certbus.ra_profiles (name, ca_id, auto_renew) VALUES ('r-manual', $1, false) RETURNING id", [ca])[0].decode("id")
        }

        /// A certificate recorded at `created`, valid until `notAfter`.
        @discardableResult
        func certificate(
            _ created: String, notAfter: String, source: String = "ISSUED", profile: UUID? = nil, revoked: String? = nil,
            predecessor: UUID? = nil, name: String = "www.example.com"
        ) throws -> UUID {
            try c.query(
                """
                INSERT INTO certbus.certificates (ca_id, profile_id, serial_number, fingerprint_sha256, common_name, subject, issuer,
                  key_algorithm, not_before, not_after, status, revoked_at, certificate_pem, predecessor_id, source, created_at)
                VALUES (CASE WHEN $8 = 'DISCOVERED' THEN NULL ELSE $1::uuid END, $2, md5(random()::text), md5(random()::text) || md5(random()::text),
                        $9, 'CN=' || $9, 'CN=r-ca', 'EC-P256', $3::timestamptz, $4::timestamptz,
                        CASE WHEN $5::timestamptz IS NOT NULL THEN 'REVOKED' WHEN $4::timestamptz < now() THEN 'EXPIRED' ELSE 'VALID' END,
                        $5::timestamptz, 'PEM', $6, $8, $7::timestamptz)
                RETURNING id
                """, [ca, profile, created, notAfter, revoked, predecessor, created, source, name])[0].decode("id")
        }

        /// A RENEW request for `predecessor` made at `created`.
        func renewalRequest(for predecessor: UUID, created: String, issued certificate: UUID? = nil) throws {
            try c.execute(
                """
                INSERT INTO certbus.certificate_requests (idempotency_key, operation, status, profile_id, ca_id, predecessor_id,
                  key_source, generated_key_algorithm, validity_days, binding_sha256, requested_by_type, requested_by_id,
                  certificate_id, created_at)
                VALUES (md5(random()::text), 'RENEW', CASE WHEN $4::uuid IS NULL THEN 'FAILED' ELSE 'ISSUED' END, $1, $2, $3,
                        'GENERATED', 'EC-P256', 90, md5('x') || md5('y'), 'SYSTEM', 'renewal-scheduler', $4, $5::timestamptz)
                """, [autoProfile, ca, predecessor, certificate, created])
        }

        /// A finished attempt of job `job`.
        func attempt(_ job: Int, _ number: Int, _ kind: String, _ finished: String, _ outcome: String, _ error: String? = nil) throws {
            try c.execute(
                """
                INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
                VALUES ($1, $2, $3, 'w', $4::timestamptz - interval '1 second', $4::timestamptz, $5, $6)
                """, [job, number, kind, finished, outcome, error])
        }

        /// The attempts both job tests use: in week one an ISSUE_CERT job retried twice then
        /// successful, a RENEW_CERT job that lost its lease then failed for good, a cancelled NOOP;
        /// in week two a success; and a failure on the first second after the range.
        func attempts() throws {
            try attempt(1, 1, "ISSUE_CERT", "2024-01-02T10:00:00Z", "RETRY", "CA 10.0.0.1:443 unreachable (attempt 1)")
            try attempt(1, 2, "ISSUE_CERT", "2024-01-02T10:05:00Z", "RETRY", "CA 10.0.0.1:443 unreachable (attempt 2)")
            try attempt(1, 3, "ISSUE_CERT", "2024-01-02T10:10:00Z", "SUCCESS")
            try attempt(2, 1, "RENEW_CERT", "2024-01-03T10:00:00Z", "LEASE_EXPIRED", "lease expired")
            try attempt(2, 2, "RENEW_CERT", "2024-01-03T11:00:00Z", "FAILED", "certificate 3f2a9c1e-0b6d-4c55-9a7e-2b1f0c9d8e7a is revoked")
            try attempt(3, 1, "NOOP", "2024-01-04T10:00:00Z", "CANCELLED", "cancelled by operator")
            try attempt(4, 1, "ISSUE_CERT", "2024-01-09T10:00:00Z", "SUCCESS")
            try attempt(5, 1, "ISSUE_CERT", ReportQueryTests.until, "RETRY", "after the range")
        }

        /// An alert raised at `created`.
        func alert(
            _ type: String, _ severity: String, entity: String, id: String, cause: String, created: String,
            read: String? = nil, resolved: String? = nil
        ) throws {
            try c.execute(
                """
                INSERT INTO certbus.alerts (alert_type, severity, title, message, entity_type, entity_id, cause_key, created_at,
                                            read_at, resolved_at)
                VALUES ($1, $2, 'title', 'message', $3, $4, $5, $6::timestamptz, $7::timestamptz, $8::timestamptz)
                """, [type, severity, entity, id, cause, created, read, resolved])
        }
    }

    /// The two weeks the fixtures live in: Monday 2024-01-01 to Monday 2024-01-15 (exclusive).
    static let from = "2024-01-01T00:00:00Z", until = "2024-01-15T00:00:00Z"

    /// Rows of `sql` as dictionaries of text (nil = NULL).
    func rows(_ c: Connection, _ sql: String, _ parameters: [any PostgresEncodable] = [from, until]) throws -> [[String: String?]] {
        try c.query(sql, parameters).map { $0.dictionary() }
    }

    @Test func certificateWeeksAndRenewalTimes() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let f = try Fixtures(c)
        // Week of 2024-01-01: A issued (expires in week 2, never renewed); B expires, renewed by C in time
        // (first request 24 h before C, a failed one); E discovered. F imported just before the range.
        let a = try f.certificate("2024-01-02T00:00:00Z", notAfter: "2024-01-10T00:00:00Z", profile: f.autoProfile)
        let b = try f.certificate("2023-12-01T00:00:00Z", notAfter: "2024-01-03T00:00:00Z", profile: f.autoProfile)
        let cert = try f.certificate("2024-01-02T12:00:00Z", notAfter: "2024-04-01T00:00:00Z", profile: f.autoProfile, predecessor: b)
        try f.renewalRequest(for: b, created: "2024-01-01T12:00:00Z")
        try f.renewalRequest(for: b, created: "2024-01-02T06:00:00Z", issued: cert)
        try f.certificate("2024-01-03T00:00:00Z", notAfter: "2024-06-01T00:00:00Z", source: "DISCOVERED")
        try f.certificate("2023-12-31T23:59:59Z", notAfter: "2024-06-01T00:00:00Z", source: "IMPORTED")
        // Week of 2024-01-08: D issued and revoked; H expired on the 12th and was renewed by G two days late.
        try f.certificate("2024-01-09T00:00:00Z", notAfter: "2025-01-09T00:00:00Z", profile: f.autoProfile, revoked: "2024-01-10T00:00:00Z")
        let h = try f.certificate("2023-11-01T00:00:00Z", notAfter: "2024-01-12T00:00:00Z", profile: f.autoProfile)
        let g = try f.certificate("2024-01-14T23:00:00Z", notAfter: "2024-04-14T00:00:00Z", profile: f.autoProfile, predecessor: h)
        try f.renewalRequest(for: h, created: "2024-01-14T21:00:00Z", issued: g)
        // Outside the range: a renewal on the first second after it.
        try f.certificate("2024-01-15T00:00:00Z", notAfter: "2024-04-15T00:00:00Z", profile: f.autoProfile, predecessor: a)
        // Failed issuance and renewal attempts (the successes and the cancelled NOOP do not count).
        try f.attempts()

        let weeks = try rows(c, "SELECT * FROM certbus.report_certificate_weeks($1, $2)")
        #expect(weeks.count == 2)
        let expected: [[String: String]] = [
            ["week_starting": "2024-01-01", "issued": "1", "renewed": "1", "revoked": "0", "expired": "1",
             "expired_without_successor": "0", "discovered": "1", "imported": "0", "issuance_failed_attempts": "2",
             "renewal_failed_attempts": "2"],
            ["week_starting": "2024-01-08", "issued": "1", "renewed": "1", "revoked": "1", "expired": "2",
             "expired_without_successor": "2", "discovered": "0", "imported": "0", "issuance_failed_attempts": "0",
             "renewal_failed_attempts": "0"],
        ]
        for (row, want) in zip(weeks, expected) {
            for (column, value) in want { #expect(row[column] == value, "\(column) in week \(want["week_starting"]!)") }
        }

        let renewals = try rows(c, "SELECT * FROM certbus.report_renewal_times($1, $2)")
        #expect(renewals.map { $0["renewals"] } == ["1", "1"])
        #expect(renewals.map { $0["renewals_timed"] } == ["1", "1"])
        #expect(renewals.map { $0["mean_hours_to_renew"] } == ["24.0", "2.0"])
        #expect(renewals.map { $0["p90_hours_to_renew"] } == ["24.0", "2.0"])
        #expect(renewals.map { $0["mean_days_left_at_renewal"] } == ["0.5", "-3.0"])
        #expect(renewals.map { $0["renewed_after_expiry"] } == ["0", "1"])
        // A week without renewals has no mean (NULL), not zero.
        let later = try rows(c, "SELECT * FROM certbus.report_renewal_times($1, $2)", ["2024-02-05T00:00:00Z", "2024-02-12T00:00:00Z"])
        #expect(later.count == 1)
        #expect(later[0]["renewals"] == "0")
        #expect(later[0]["mean_hours_to_renew"] == .some(nil))
    }

    @Test func jobAttemptsAndFailurePatterns() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let f = try Fixtures(c)
        try f.attempts()

        let byWeek = try rows(c, "SELECT * FROM certbus.report_job_attempts_by_week($1, $2)")
        #expect(byWeek.map { "\($0["week_starting"]!!) \($0["kind"]!!)" } ==
                ["2024-01-01 ISSUE_CERT", "2024-01-01 NOOP", "2024-01-01 RENEW_CERT", "2024-01-08 ISSUE_CERT"])
        let issue = byWeek[0]
        #expect(issue["attempts"] == "3")
        #expect(issue["succeeded"] == "1")
        #expect(issue["failed_attempts"] == "2")
        #expect(issue["retried"] == "2")
        #expect(issue["failure_percent"] == "66.7")
        #expect(issue["most_common_error"] == "CA N.N.N.N:N unreachable (attempt N)")
        #expect(byWeek[1]["cancelled"] == "1")
        #expect(byWeek[1]["failed_attempts"] == "0")
        #expect(byWeek[1]["failure_percent"] == "0.0")
        #expect(byWeek[1]["most_common_error"] == .some(nil))
        #expect(byWeek[2]["failed_for_good"] == "1")
        #expect(byWeek[2]["lease_expired"] == "1")
        #expect(byWeek[2]["failure_percent"] == "100.0")

        let patterns = try rows(c, "SELECT * FROM certbus.report_job_failure_patterns($1, $2)")
        #expect(patterns.map { $0["error_pattern"]!! } ==
                ["CA N.N.N.N:N unreachable (attempt N)", "certificate <id> is revoked", "lease expired"])
        #expect(patterns.map { $0["failed_attempts"]!! } == ["2", "1", "1"])
        #expect(patterns[0]["jobs"] == "1")
        #expect(patterns[1]["final_failures"] == "1")
        #expect(patterns[2]["lease_expiries"] == "1")
        #expect(try c.query("SELECT certbus.error_pattern($1) AS p", [String(repeating: "x", count: 300)])[0].decode("p", as: String.self).count == 200)
    }

    @Test func alertVolumeAndPatterns() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let f = try Fixtures(c)
        try f.alert("ERROR", "ERROR", entity: "JOB", id: "1", cause: "job:1", created: "2024-01-02T00:00:00Z",
                    read: "2024-01-02T01:00:00Z", resolved: "2024-01-02T06:00:00Z")
        try f.alert("EXPIRING_SOON", "WARN", entity: "CERTIFICATE", id: "c1", cause: "expiry:c1:7d", created: "2024-01-03T00:00:00Z")
        try f.alert("WARN", "WARN", entity: "AGENT", id: "a1", cause: "agent-offline:a1", created: "2024-01-09T00:00:00Z",
                    read: "2024-01-09T01:00:00Z")
        try f.alert("ERROR", "ERROR", entity: "JOB", id: "1", cause: "job:1", created: "2024-01-10T00:00:00Z",
                    resolved: "2024-01-10T02:00:00Z")
        try f.alert("ERROR", "ERROR", entity: "JOB", id: "9", cause: "job:9", created: "2023-12-31T00:00:00Z")

        let volume = try rows(c, "SELECT * FROM certbus.report_alert_volume($1, $2)")
        #expect(volume.map { $0["raised"] } == ["2", "2"])
        #expect(volume.map { $0["error_raised"] } == ["1", "1"])
        #expect(volume.map { $0["warn_raised"] } == ["1", "1"])
        #expect(volume.map { $0["expiring_soon_raised"] } == ["1", "0"])
        #expect(volume.map { $0["still_open"] } == ["1", "1"])
        #expect(volume.map { $0["still_unread"] } == ["1", "0"])
        #expect(volume.map { $0["mean_hours_to_resolve"] } == ["6.0", "2.0"])

        let patterns = try rows(c, "SELECT * FROM certbus.report_alert_patterns($1, $2)")
        #expect(patterns.map { "\($0["alert_type"]!!)/\($0["entity_type"]!!)" } == ["ERROR/JOB", "EXPIRING_SOON/CERTIFICATE", "WARN/AGENT"])
        #expect(patterns[0]["raised"] == "2")
        #expect(patterns[0]["distinct_entities"] == "1")
        #expect(patterns[0]["most_for_one_entity"] == "2")
        #expect(patterns[0]["mean_hours_to_resolve"] == "4.0")
        #expect(patterns[1]["still_unread"] == "1")
        #expect(patterns[2]["mean_hours_to_resolve"] == .some(nil))
    }

    @Test func upcomingExpiriesSayWhoMustAct() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let f = try Fixtures(c)
        try f.certificate("2099-10-01T00:00:00Z", notAfter: "2100-01-05T00:00:00Z", profile: f.autoProfile)
        try f.certificate("2099-10-01T00:00:00Z", notAfter: "2100-01-06T00:00:00Z", profile: f.manualProfile)
        try f.certificate("2099-10-01T00:00:00Z", notAfter: "2100-01-07T00:00:00Z", profile: f.autoProfile, revoked: "2099-11-01T00:00:00Z")
        try f.certificate("2099-10-01T00:00:00Z", notAfter: "2100-01-12T00:00:00Z", source: "DISCOVERED")
        let old = try f.certificate("2099-10-01T00:00:00Z", notAfter: "2100-01-13T00:00:00Z", profile: f.autoProfile)
        try f.certificate("2099-12-01T00:00:00Z", notAfter: "2100-04-01T00:00:00Z", profile: f.autoProfile, predecessor: old)
        let weeks = try rows(c, "SELECT * FROM certbus.report_upcoming_expiries($1, $2)", ["2100-01-04T00:00:00Z", "2100-01-18T00:00:00Z"])
        #expect(weeks.map { $0["week_starting"] } == ["2100-01-04", "2100-01-11"])
        #expect(weeks.map { $0["expiring"] } == ["2", "2"])
        #expect(weeks.map { $0["renewed"] } == ["0", "1"])
        #expect(weeks.map { $0["awaiting_automatic_renewal"] } == ["1", "0"])
        #expect(weeks.map { $0["without_automatic_renewal"] } == ["1", "1"])
    }

    @Test func reportQueriesReadIndexRangesNotAllHistory() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let f = try Fixtures(c)
        // Three years of certificates (two in three renewing the one before) and alerts in time order,
        // then a two-week report of the last weeks.
        try c.execute(
            """
            INSERT INTO certbus.certificates (id, ca_id, serial_number, fingerprint_sha256, subject, issuer, key_algorithm,
                                              not_before, not_after, status, revoked_at, certificate_pem, created_at,
                                              predecessor_id)
            SELECT md5('c' || g)::uuid, $1, 'r' || g, md5('a' || g) || md5('b' || g), 'CN=x', 'CN=y', 'EC-P256', t,
                   t + interval '90 days', CASE WHEN g % 50 = 0 THEN 'REVOKED' ELSE 'VALID' END,
                   CASE WHEN g % 50 = 0 THEN t + interval '1 day' END, 'PEM', t,
                   CASE WHEN g % 3 <> 1 THEN md5('c' || (g - 1))::uuid END
              FROM generate_series(1, 20000) g, LATERAL (SELECT now() - interval '3 years' + g * interval '78 minutes' AS t) x
            """, [f.ca])
        try c.execute(
            """
            INSERT INTO certbus.alerts (alert_type, severity, title, message, entity_type, entity_id, cause_key, created_at, resolved_at)
            SELECT 'WARN', 'WARN', 't', 'm', 'AGENT', 'a' || g, 'r:' || g, t, t + interval '1 hour'
              FROM generate_series(1, 20000) g, LATERAL (SELECT now() - interval '3 years' + g * interval '78 minutes' AS t) x
            """)
        try c.execute("ANALYZE certbus.certificates")
        try c.execute("ANALYZE certbus.alerts")
        let since = "date_trunc('week', now()) - interval '1 week'"
        func plan(_ function: String) throws -> String {
            try c.query("EXPLAIN (COSTS OFF) SELECT * FROM certbus.\(function)(\(since), now())")
                .map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
        }
        let trends = try plan("report_certificate_weeks")
        #expect(trends.contains("certificates_created_at"), "\(trends)")
        #expect(trends.contains("certificates_revoked_at"), "\(trends)")
        #expect(trends.contains("certificates_not_after"), "\(trends)")
        #expect(!trends.contains("Seq Scan on certificates"), "\(trends)")
        let renewals = try plan("report_renewal_times")
        #expect(renewals.contains("certificates_created_at"), "\(renewals)")
        #expect(!renewals.contains("Seq Scan on certificates"), "\(renewals)")
        for function in ["report_alert_volume", "report_alert_patterns"] {
            let text = try plan(function)
            #expect(text.contains("alerts_created"), "\(function): \(text)")
            #expect(!text.contains("Seq Scan"), "\(function): \(text)")
        }
        let upcoming = try c.query("EXPLAIN (COSTS OFF) SELECT * FROM certbus.report_upcoming_expiries(now(), now() + interval '2 weeks')")
            .map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
        #expect(upcoming.contains("certificates_active_not_after"), "\(upcoming)")
        #expect(!upcoming.contains("Seq Scan on certificates"), "\(upcoming)")
    }

    @Test func loadersReadEveryPartInOneSnapshotAndRefuseBadInput() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        var heard: [String] = []
        let weekly = try WeeklyReport.load(on: c, weeks: 3, weeksAhead: 2) { heard.append($0) }
        #expect(weekly.sectionIds == ["certificate_trends", "upcoming_expiries", "job_attempts_by_week", "job_failure_patterns",
                                      "alert_volume", "alert_patterns", "renewal_times"])
        #expect(heard.count == 7)
        let trends = try #require(weekly.sections.first)
        #expect(trends.rows.count == 3)
        #expect(trends.chart?.categories.count == 3)
        #expect(trends.chart?.isEmpty == true)
        #expect(weekly.sections[1].rows.count == 2)
        #expect(weekly.sections[2].chart?.categories.count == 3)
        #expect(weekly.figures.first { $0.id == "mean_hours_to_renew" }?.value == .null)
        #expect(weekly.periodEnd.timeIntervalSince(weekly.periodStart) > 14 * 86400)
        for (weeks, ahead) in [(0, 8), (8, 0), (521, 8)] {
            #expect(throws: ReportError.self) { try WeeklyReport.load(on: c, weeks: weeks, weeksAhead: ahead) }
        }
        let daily = try DailyReport.load(on: c)
        #expect(daily.sectionIds == ["unread_error_alerts", "failed_jobs_last_day", "running_jobs", "queue_depth"])
        #expect(daily.figures.count == 8)
        #expect(daily.figures.allSatisfy { $0.value == .integer(0) && !$0.needsAttention })
        // The connection is usable afterwards: the read-only transaction ended.
        try c.execute("CREATE TEMP TABLE after_report (x int)")
    }

    @Test func dailyListsAreCutAtTheLimitWithTheirTotal() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        try c.execute(
            """
            INSERT INTO certbus.alerts (alert_type, severity, title, message, entity_type, entity_id, cause_key, created_at)
            SELECT 'ERROR', 'ERROR', 'Job ' || g || ' failed', 'boom', 'JOB', g::text, 'job:' || g, now() - g * interval '1 minute'
              FROM generate_series(1, $1) g
            """, [DailyReport.rowLimit + 5])
        let daily = try DailyReport.load(on: c)
        let alerts = try #require(daily.sections.first)
        #expect(alerts.rows.count == DailyReport.rowLimit)
        #expect(alerts.totalRows == DailyReport.rowLimit + 5)
        #expect(alerts.truncationNote?.contains("of \(DailyReport.rowLimit + 5) rows") == true)
        #expect(alerts.rows[0][2] == .text("Job 1 failed"))
        #expect(daily.figures.first { $0.id == "unread_error_alerts" }?.needsAttention == true)
    }

    @Test func aDatabaseWithoutTheReportFunctionsIsNamed() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        #expect(throws: ReportError("the database has no certbus.report_certificate_weeks(timestamptz,timestamptz) yet: run 'certbus migrate' first")) {
            try WeeklyReport.load(on: c)
        }
        #expect(throws: ReportError("the database has no reporting view certbus.daily_operations_summary yet: run 'certbus migrate' first")) {
            try DailyReport.load(on: c)
        }
    }

    @Test func sampleDataLooksLikeHistoryAndIsNotInsertedTwice() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let summary = try ReportSampleData(certificates: 600, jobs: 2000).insert(on: c)
        #expect(summary.certificates > 400 && summary.certificates < 900)
        #expect(summary.renewals > 0)
        #expect(summary.requests >= summary.renewals)
        #expect(summary.jobs == 2000)
        #expect(summary.attempts > 2000)
        #expect(summary.alerts == 30)
        let report = try WeeklyReport.load(on: c)
        #expect(report.sections[0].total(of: "renewed") > 0)
        #expect(report.sections[2].total(of: "failed_attempts") > 0)
        #expect(report.figures.first { $0.id == "mean_hours_to_renew" }?.value.number != nil)
        #expect(throws: ReportError("this database already holds the report sample (CA sample-ca); use a fresh database")) {
            try ReportSampleData(certificates: 10, jobs: 0).insert(on: c)
        }
        #expect(throws: ReportError.self) { try ReportSampleData(certificates: 0, jobs: 0).insert(on: c) }
    }
}
