import CertbusTesting
import Foundation
import Postgres
import Testing

/// `certbus jobs watch` and `certbus alerts watch` as processes: refreshed by NOTIFY (a watch
/// polling only once a minute still sees an enqueue at once), by their poll for what sends no
/// notification, and surviving a lost connection.
///
/// Database: each test its own TestDatabase (template copy on the shared test cluster), dropped
/// at the end; the watch processes end on their own (--for) or are killed.
@Suite("Live views")
struct LiveViewTests {
    /// Waits until `count` sessions named `application` on this test's database (the cluster is
    /// shared with other tests) have run a query mentioning `fragment`
    /// (the watch has LISTENed and read its first state).
    static func waitUntilWatching(_ c: Connection, application: String, count: Int = 1, fragment: String) throws {
        let deadline = Date().addingTimeInterval(30)
        while Date() < deadline {
            let n = try c.query(
                """
                SELECT count(*)::int AS n FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = $1 AND query LIKE $2
                """,
                [application, "%\(fragment)%"])[0].decode("n", as: Int.self)
            if n >= count { return }
            usleep(50_000)
        }
        Issue.record("\(count) \(application) session(s) never started watching")
    }

    /// Every standard output line as a JSON object (recording an issue for any line that is not one).
    static func jsonLines(_ output: String) -> [[String: Any]] {
        output.split(separator: "\n").compactMap { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                Issue.record("not a JSON line: \(line)")
                return nil
            }
            return object
        }
    }

    static func noop(_ object: [String: Any]) -> [String: Any]? {
        (object["kinds"] as? [[String: Any]])?.first { $0["kind"] as? String == "NOOP" }
    }

    @Test func jobsWatchRefreshesOnNotifyAndPollsForTheRest() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        // One watch polls once a minute: within this test only NOTIFY can refresh it. The other polls twice a second.
        let notified = try CertbusCommand(["jobs", "watch", "--json", "--interval", "60", "--for", "12s"], database: db)
        let polling = try CertbusCommand(["jobs", "watch", "--json", "--interval", "0.5", "--for", "12s"], database: db)
        try Self.waitUntilWatching(c, application: "certbus-jobs-watch", count: 2, fragment: "FROM certbus.jobs")
        let enqueued = Date()
        let id: Int64 = try c.query("SELECT certbus.enqueue_job('NOOP') AS id")[0].decode("id")
        Thread.sleep(forTimeInterval: 1.5)
        // A worker's final failure sends no NOTIFY: only the poll sees it.
        try c.execute(
            "UPDATE certbus.jobs SET status = 'FAILED', attempt = 1, started_at = now(), completed_at = now(), error = 'boom' WHERE id = $1", [id])
        let a = notified.finish(timeout: 60)
        let b = polling.finish(timeout: 60)
        for result in [a, b] {
            #expect(result.status == 0, "\(result.combined)")
            #expect(result.error == "")
        }
        let aLines = Self.jsonLines(a.output)
        #expect((aLines.first?["kinds"] as? [Any])?.isEmpty == true)
        let sawEnqueue = try #require(aLines.first { Self.noop($0)?["due"] as? Int == 1 }, "\(a.output)")
        let seenAt = ISO8601DateFormatter().date(from: sawEnqueue["time"] as? String ?? "") ?? .distantFuture
        #expect(seenAt.timeIntervalSince(enqueued) < 5, "the enqueue was shown \(seenAt.timeIntervalSince(enqueued)) s later")
        #expect(!aLines.contains { Self.noop($0)?["failed"] as? Int == 1 }, "a watch polling once a minute saw an un-notified change")
        let bLines = Self.jsonLines(b.output)
        let failed = try #require(bLines.first { Self.noop($0)?["failed"] as? Int == 1 }, "\(b.output)")
        #expect(failed["changed"] as? [String] == ["NOOP"])
        #expect((failed["new_failures"] as? [[String: Any]])?.first?["job_id"] as? Int == Int(id))
        #expect((failed["new_failures"] as? [[String: Any]])?.first?["error"] as? String == "boom")
    }

    @Test func watchesSurviveALostConnection() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let jobs = try CertbusCommand(["jobs", "watch", "--interval", "0.5", "--for", "12s"], database: db)
        let alerts = try CertbusCommand(["alerts", "watch", "--for", "12s"], database: db)
        try Self.waitUntilWatching(c, application: "certbus-jobs-watch", fragment: "FROM certbus.jobs")
        try Self.waitUntilWatching(c, application: "certbus-alerts-watch", fragment: "FROM certbus.alerts")
        // What a server restart or a failover does to their sessions.
        let killed: Int = try c.query(
            """
            SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
             WHERE datname = current_database() AND application_name IN ('certbus-jobs-watch', 'certbus-alerts-watch')
            """)[0].decode("n")
        #expect(killed == 2)
        _ = try c.query("SELECT certbus.enqueue_job('NOOP')")
        try c.execute("SELECT certbus.raise_alert('ERROR', 'ERROR', 'while away', 'm', 'JOB', '9', 'live-test:9')")
        let j = jobs.finish(timeout: 60)
        let a = alerts.finish(timeout: 60)
        for result in [j, a] {
            #expect(result.status == 0, "\(result.combined)")
            #expect(result.error.contains("connection to the database lost") && result.error.contains("reconnected"), "\(result.error)")
        }
        #expect(j.output.contains("NOOP  due 1"), "\(j.output)")
        // Raised while the watch was away or just back: shown exactly once either way.
        #expect(a.output.components(separatedBy: "while away").count == 2, "\(a.output)")
    }

    @Test func badWatchOptionsAreUsageErrors() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        for (arguments, message) in [
            (["jobs", "watch", "--interval", "0"], "--interval must be between 0.2 and 60"),
            (["jobs", "watch", "--interval", "61"], "--interval must be between 0.2 and 60"),
            (["jobs", "watch", "--kind", "NOPE"], "unknown job kind 'NOPE' (known kinds: CA_REFRESH"),
            (["jobs", "watch", "--kind", "no-pe"], "'no-pe' is not a job kind"),
            (["jobs", "watch", "--for", "soon"], "soon"),
        ] {
            let result = try CertbusCommand.run(arguments, database: db, timeout: 60)
            #expect(result.status == 2, "\(arguments): \(result.combined)")
            #expect(result.error.contains(message), "\(arguments): \(result.error)")
            #expect(result.output == "")
        }
    }
}
