import CertbusBench
import CertbusTesting
import Foundation
import Postgres
import Testing

/// `certbus bench soak --quick` end to end: 500 ISSUE_CERT jobs through three real worker
/// processes and a scheduler while a worker is SIGKILLed and PostgreSQL restarted. Asserts the
/// counts and that the faults hit a running queue, never a time.
///
/// Database: a private home with its own embedded cluster (`PrivateHome`, since the soak restarts
/// the server), stopped and deleted at the end. The soak's scratch database is kept (`--keep`)
/// so the test can then tamper with it and show that the checks catch lost and doubled work.
@Suite("bench soak, end to end", .serialized)
struct SoakEndToEndTests {
    @Test func quickSoakLosesNothingAndDoublesNothing() throws {
        let home = try PrivateHome("soak")
        defer { home.close() }
        let result = try home.run(["bench", "soak", "--quick", "--keep", home.file("kept"), "--json"], timeout: 900)
        #expect(result.status == 0, "\(result.combined)")
        let report = try #require(try result.json() as? [String: Any], "\(result.combined)")
        #expect(report["passed"] as? Bool == true)
        #expect(report["jobs"] as? Int == 500)
        #expect(report["restarts"] as? Bool == true)
        let checks = try #require(report["checks"] as? [[String: Any]])
        #expect(checks.compactMap { $0["name"] as? String } == [
            "faults", "jobs", "attempts", "certificates", "ca ledger", "audit rows", "events", "audit chain", "chains", "secrets",
        ])
        for check in checks { #expect(check["passed"] as? Bool == true, "\(check)") }
        let detail = Dictionary(uniqueKeysWithValues: checks.map { ($0["name"] as! String, $0["detail"] as! String) })
        #expect(detail["jobs"]?.hasPrefix("500 of 500 SUCCESS; QUEUED 0, RUNNING 0, FAILED 0, CANCELLED 0") == true)
        #expect(detail["certificates"]?.hasPrefix("500 distinct certificates for 500 jobs") == true)
        #expect(detail["chains"]?.hasPrefix("500 of 500 verify") == true)
        // The faults hit a queue that still had work, in order, and the workers carried on after the restart.
        let timeline = try #require(report["timeline"] as? [[String: Any]])
        let kill = try #require(timeline.first { ($0["what"] as? String)?.hasPrefix("SIGKILL worker") == true })
        let back = try #require(timeline.first { ($0["what"] as? String)?.hasPrefix("PostgreSQL is back") == true })
        #expect((kill["done"] as? Int ?? 500) < 500)
        #expect((back["done"] as? Int ?? 500) < 500)
        #expect((kill["seconds"] as? Double ?? 0) <= (back["seconds"] as? Double ?? 0))
        #expect(timeline.contains { ($0["what"] as? String)?.hasPrefix("started worker 4") == true })
        let after = try #require(report["completed_after_restart"] as? [String: Int])
        #expect(after.values.reduce(0, +) > 0)
        let rss = try #require(report["worker_peak_rss_bytes"] as? [String: Int])
        #expect(rss.count == 4 && rss.values.allSatisfy { $0 > 0 })

        // The kept database, tampered: the same checks must now fail, naming the jobs.
        let kept = try #require(report["kept_database_url"] as? String)
        let c = try Connection.connect(kept, applicationName: "certbus-test")
        defer { c.close() }
        #expect(SoakChecks.evaluate(try SoakObservations.gather(on: c), expected: SoakExpectation(jobs: 500)).allSatisfy { $0.passed })
        let ids = try c.query("SELECT id FROM certbus.jobs WHERE kind = 'ISSUE_CERT' ORDER BY id LIMIT 4").map { try $0.decode("id", as: Int64.self) }
        try c.execute("DELETE FROM certbus.jobs WHERE id = $1", [ids[0]])
        try c.execute(
            "INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome) VALUES ($1, 99, 'ISSUE_CERT', 'tamper:1:1', now(), now(), 'SUCCESS')",
            [ids[1]])
        try c.execute(
            """
            SELECT certbus.write_audit('ISSUANCE_COMPLETED', 'Certificate', c.id::text, 'SYSTEM', 'tamper', jsonb_build_object('requestId', r.id::text))
              FROM certbus.certificate_requests r JOIN certbus.certificates c ON c.request_id = r.id WHERE r.idempotency_key = 'job:' || $1
            """, [ids[2]])
        try c.execute(
            """
            UPDATE certbus.certificates SET certificate_pem = (SELECT certificate_pem FROM certbus.certificates c2 WHERE c2.id <> certificates.id LIMIT 1)
             WHERE request_id = (SELECT id FROM certbus.certificate_requests WHERE idempotency_key = 'job:' || $1)
            """, [ids[3]])
        let failed = Dictionary(uniqueKeysWithValues: SoakChecks.evaluate(try SoakObservations.gather(on: c), expected: SoakExpectation(jobs: 500))
            .filter { !$0.passed }.map { ($0.name, $0) })
        #expect(failed["jobs"]?.detail.contains("499 job rows found (1 missing)") == true, "\(failed)")
        #expect(failed["attempts"]?.examples == ["job \(ids[1]): 2 SUCCESS attempts"])
        #expect(failed["audit rows"]?.examples.first == "job \(ids[2]): 2 ISSUANCE_COMPLETED")
        let chains = try SoakChainVerification.run(on: c, sample: 0, directory: home.path)
        #expect(chains.verified == 499)
        #expect(chains.failures.first?.contains("stored fingerprint") == true, "\(chains.failures)")
        #expect(!chains.check.passed)
    }

    @Test func refusesToRestartAServerItDoesNotManage() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let command = try CertbusCommand(["bench", "soak", "--quick"], database: db)
        let pid = command.processIdentifier
        let result = command.finish(timeout: 120)
        #expect(result.status == 2, "\(result.combined)")
        #expect(result.error.contains("--restart-command") && result.error.contains("--no-restart"), "\(result.error)")
        let scratch = try TestCluster.withAdmin { try $0.query("SELECT datname FROM pg_database WHERE datname LIKE $1", ["certbus_bench_soak_\(pid)_%"]) }
        #expect(scratch.isEmpty, "nothing is created before the refusal")
    }

    @Test(arguments: [
        (["--quick", "--jobs", "10"], "--quick or --jobs"),
        (["--kill-at", "70", "--restart-at", "60"], "--kill-at"),
        (["--no-restart", "--restart-command", "true"], "--no-restart or --restart-command"),
        (["--workers", "0", "--no-restart"], "--workers"),
        (["--release-rate", "0", "--no-restart"], "--release-rate"),
        (["--quick", "--release-rate", "-5", "--no-restart"], "--release-rate"),
    ])
    func refusesContradictoryOptions(_ arguments: [String], _ message: String) throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let result = try CertbusCommand.run(["bench", "soak"] + arguments, database: db, timeout: 120)
        #expect(result.status == 2, "\(result.combined)")
        #expect(result.error.contains(message), "\(result.error)")
    }
}
