import CertbusTesting
import Foundation
import Postgres
import Testing

/// The daily and weekly reporting views of sql/090, on a fresh migrated database each.
@Suite struct ReportViewTests {
    @Test func weeklyJobFailurePatternsCountAttempts() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let now = Date()
        // Three attempts of one ISSUE_CERT job: two failures then success; one NOOP success.
        for (attempt, outcome, error) in [(1, "RETRY", "CA unreachable"), (2, "RETRY", "CA unreachable"), (3, "SUCCESS", nil)] {
            try c.execute(
                """
                INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
                VALUES (1, $1, 'ISSUE_CERT', 'w', $2, $2, $3, $4)
                """, [attempt, now, outcome, error])
        }
        try c.execute(
            """
            INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome)
            VALUES (2, 1, 'NOOP', 'w', $1, $1, 'SUCCESS')
            """, [now])
        let rows = try c.query("SELECT * FROM certbus.weekly_job_failure_patterns ORDER BY kind")
        #expect(rows.count == 2)
        let issue = rows[0]
        #expect(try issue.decode("kind", as: String.self) == "ISSUE_CERT")
        #expect(try issue.decode("attempts", as: Int.self) == 3)
        #expect(try issue.decode("retried", as: Int.self) == 2)
        #expect(try issue.decode("succeeded", as: Int.self) == 1)
        #expect(try issue.decode("most_common_error", as: String.self) == "CA unreachable")
        #expect(try issue.decode("failure_percent", as: Double.self) == 66.7)
        let trends = try #require(try c.query("SELECT * FROM certbus.weekly_certificate_trends").firstRow)
        #expect(try trends.decode("issuance_failed_attempts", as: Int.self) == 2)
    }

    @Test func dailySummaryAndAlertPatterns() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("SELECT certbus.raise_alert('ERROR', 'ERROR', 'Job failed', 'boom', 'JOB', '1', 'job:1')")
        try c.execute("SELECT certbus.raise_alert('WARN', 'WARN', 'Agent quiet', 'silent', 'AGENT', 'a1', 'agent-offline:a1')")
        // Raising the same cause again does not add an alert.
        try c.execute("SELECT certbus.raise_alert('ERROR', 'ERROR', 'Job failed', 'boom', 'JOB', '1', 'job:1')")
        let summary = try #require(try c.query("SELECT * FROM certbus.daily_operations_summary").firstRow)
        #expect(try summary.decode("unread_error_alerts", as: Int.self) == 1)
        #expect(try summary.decode("open_alerts", as: Int.self) == 2)
        let patterns = try c.query("SELECT * FROM certbus.weekly_alert_patterns WHERE severity = 'ERROR'")
        #expect(patterns.count == 1)
        #expect(try patterns[0].decode("raised", as: Int.self) == 1)
        #expect(try patterns[0].decode("still_unread", as: Int.self) == 1)
    }
}
