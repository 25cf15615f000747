import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The plans of the worker functions (sql/016) on a table whose statistics are stale: right
/// after a burst of claims the planner believes no job is RUNNING. A nested loop over the
/// batch would then re-read the whole batch for every job (quadratic: 5,000 completions took
/// 4 seconds); the functions must join linearly. The plans are read with auto_explain, which
/// reports the statements run inside the functions to this session as notices.
///
/// Database: its own TestDatabase (template copy on the shared test cluster), dropped at the end.
@Suite struct WorkerFunctionPlanTests {
    /// Makes auto_explain report the plan of every statement of this session, those run inside
    /// functions included, as a notice.
    private func explainEverything(_ c: Connection) throws {
        try c.execute("LOAD 'auto_explain'")
        try c.execute("SET auto_explain.log_min_duration = 0")
        try c.execute("SET auto_explain.log_nested_statements = on")
        try c.execute("SET auto_explain.log_level = notice")
    }

    /// The plans auto_explain reported for UPDATEs of certbus.jobs while `body` ran.
    private func jobUpdatePlans(_ c: Connection, _ body: () throws -> Void) throws -> [String] {
        let notices = Locked<[String]>([])
        c.onNotice = { message in notices.withLock { $0.append(message) } }
        defer { c.onNotice = nil }
        try body()
        return notices.current.filter { $0.contains("Update on jobs") }
    }

    @Test func batchStatementsJoinLinearlyWhenStatisticsSayNothingRuns() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("SET certbus.defer_job_notify = on")
        try c.execute("INSERT INTO certbus.jobs (kind, max_attempts) SELECT 'NOOP', 3 FROM generate_series(1, 20000)")
        try c.execute("VACUUM ANALYZE certbus.jobs")
        // Statistics now say every job is QUEUED; claim 2,000 without analyzing again.
        let claimed = try JobQueue.claim(
            on: c, workerId: "plan-test", limit: 2000, queues: ["default"], kinds: nil, leaseSeconds: 300)
        #expect(claimed.count == 2000)

        try explainEverything(c)
        // Tempt the planner further: with hash joins off for this session, a nested loop is the
        // cheapest join for a fence it believes matches one row. The functions must still not use one.
        try c.execute("SET enable_hashjoin = off")

        var plans: [String] = []
        let held = claimed.map { HeldJob(jobId: $0.job.id, attempt: $0.job.attempt, maximumRunTime: 300) }
        plans += try jobUpdatePlans(c) {
            let heartbeat = try JobQueue.heartbeat(on: c, workerId: "plan-test", jobs: held, leaseSeconds: 300)
            #expect(heartbeat.held.count == 2000)
        }
        let (toFail, rest) = (claimed.prefix(700), claimed.dropFirst(700))
        let (toComplete, toRelease) = (rest.prefix(700), rest.dropFirst(700))
        plans += try jobUpdatePlans(c) {
            let results =
                toFail.map { AttemptResult(jobId: $0.job.id, attempt: $0.job.attempt, outcome: .failure(message: "boom", isPermanent: false, retryDelay: 60)) }
                + toComplete.map { AttemptResult(jobId: $0.job.id, attempt: $0.job.attempt, outcome: .success(output: "{}", issuedCertificateId: nil, caRequestId: nil)) }
            let changed = try JobQueue.finish(on: c, workerId: "plan-test", results)
            #expect(changed.count == 1400)
        }
        plans += try jobUpdatePlans(c) {
            let n = try JobQueue.handBack(on: c, workerId: "plan-test", jobs: toRelease.map { ($0.job.id, $0.job.attempt) })
            #expect(n == 600)
        }

        // heartbeat, complete, fail, release: one UPDATE each, none of them a nested loop.
        #expect(plans.count == 4)
        for plan in plans {
            #expect(!plan.contains("Nested Loop"), "a worker function joined its batch with a nested loop:\n\(plan)")
            #expect(plan.contains("Merge Join"), "unexpected plan:\n\(plan)")
        }
        // And the effects are all there.
        let counts = try c.query(
            "SELECT status, count(*)::int AS n FROM certbus.jobs GROUP BY status ORDER BY status"
        ).map { try ($0.decode("status", as: String.self), $0.decode("n", as: Int.self)) }
        #expect(counts.map(\.0) == ["QUEUED", "SUCCESS"])
        #expect(counts.map(\.1) == [20000 - 700, 700])
        #expect(try c.value("SELECT count(*)::int AS v FROM certbus.job_attempts WHERE outcome = 'RETRY'", as: Int.self) == 700)
        #expect(try c.value("SELECT count(*)::int AS v FROM certbus.job_attempts WHERE outcome = 'SUCCESS'", as: Int.self) == 700)
    }

    @Test func claimReadsTheQueueInOrderEvenBeforeTheFirstAnalyze() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("SET certbus.defer_job_notify = on")
        // A table never analyzed: the planner believes almost nothing is queued.
        try c.execute("INSERT INTO certbus.jobs (kind, max_attempts, priority) SELECT 'NOOP', 3, 100 - (g % 3) FROM generate_series(1, 4000) g")
        try explainEverything(c)
        var claimed: [ClaimedJob] = []
        let plans = try jobUpdatePlans(c) {
            for _ in 0..<3 {
                claimed += try JobQueue.claim(on: c, workerId: "plan-test", limit: 8, queues: ["default"], kinds: [.noop], leaseSeconds: 60)
            }
        }
        #expect(plans.count == 3)
        for plan in plans {
            #expect(plan.contains("Index Scan using jobs_claimable"), "the claim does not read the queue in order:\n\(plan)")
            #expect(!plan.contains("Bitmap"), "the claim uses a bitmap scan:\n\(plan)")
            #expect(!plan.contains("Sort"), "the claim sorts the queue:\n\(plan)")
        }
        // And it took the most urgent jobs, in order: priority 98 first (ids 2, 5, 8, ...).
        #expect(claimed.count == 24)
        #expect(claimed.allSatisfy { $0.job.priority == 98 })
        let expected: [Int64] = (0..<24).map { (i: Int) -> Int64 in Int64(2 + 3 * i) }
        #expect(claimed.map(\.job.id) == expected)
    }
}
