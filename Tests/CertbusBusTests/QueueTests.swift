import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The queue's statements directly: claims, fencing, rescue, retention; and the pure backoff schedule.
@Suite struct QueueTests {
    @Test func backoffScheduleDoublesCapsAndJitters() {
        let backoff = Backoff(base: 2, maximum: 60, jitter: 0.25)
        // Middle of the jitter range: the bare schedule.
        #expect((1...7).map { backoff.delay(afterAttempt: $0, random: 0.5) } == [2, 4, 8, 16, 32, 60, 60])
        // The extremes of the jitter range scale by 1 ± jitter, never past the maximum.
        #expect(backoff.delay(afterAttempt: 3, random: 0) == 6)
        #expect(backoff.delay(afterAttempt: 3, random: 1) == 10)
        #expect(backoff.delay(afterAttempt: 6, random: 1) == 60)
        #expect(backoff.delay(afterAttempt: 6, random: 0) == 45)
        // Out-of-range inputs are clamped rather than producing nonsense.
        #expect(backoff.delay(afterAttempt: 0, random: 0.5) == 2)
        #expect(backoff.delay(afterAttempt: 10_000, random: 0.5) == 60)
        #expect(backoff.delay(afterAttempt: 2, random: 7) == 5)
        // Real jitter stays inside its band.
        for _ in 0..<1000 {
            let d = backoff.delay(afterAttempt: 2)
            #expect(d >= 3 && d <= 5)
        }
    }

    @Test func concurrentClaimersNeverShareAJob() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try JobQueue.enqueue(on: c, batch: (0..<2000).map { _ in NewJob(kind: .noop) })
        let claimedIds = Locked<[Int64]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { i in
            guard let mine = try? db.connect() else { return }
            while true {
                guard let batch = try? JobQueue.claim(on: mine, workerId: "w\(i)", limit: 37, queues: ["default"], kinds: nil, leaseSeconds: 30),
                    !batch.isEmpty
                else { break }
                claimedIds.withLock { $0 += batch.map(\.job.id) }
            }
        }
        let ids = claimedIds.current
        #expect(ids.count == 2000)
        #expect(Set(ids).count == 2000, "no job was claimed twice")
        #expect(try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'RUNNING' AND attempt = 1", as: Int.self) == 2000)
    }

    @Test func completionIsFencedOnWorkerAndAttempt() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try JobQueue.enqueue(on: c, NewJob(kind: .noop))
        let first = try #require(try JobQueue.claim(on: c, workerId: "slow", limit: 1, queues: ["default"], kinds: [.noop], leaseSeconds: 0.05).first)
        Thread.sleep(forTimeInterval: 0.1)
        let rescued = try JobQueue.rescueExpired(on: c, backoff: Backoff(base: 0, maximum: 0, jitter: 0))
        #expect(rescued == RescueSummary(requeued: 1, failed: 0, cancelled: 0))
        let second = try #require(try JobQueue.claim(on: c, workerId: "fast", limit: 1, queues: ["default"], kinds: nil, leaseSeconds: 30).first)
        #expect(second.job.attempt == 2)
        // The slow worker wakes up and tries to finish attempt 1: refused, nothing changes.
        let stale = try JobQueue.finish(on: c, workerId: "slow", [.success(first, .done)])
        #expect(stale.isEmpty)
        let effectRan = Locked(false)
        #expect(try JobQueue.complete(on: c, first, JobCompletion(commit: { _ in effectRan.withLock { $0 = true } })) == false)
        #expect(!effectRan.current, "a refused completion never runs the handler's effects")
        #expect(try JobQueue.fail(on: c, first, .permanent("late"), retryDelay: 0) == false)
        // Same worker id but the old attempt number: refused too.
        var sameWorkerOldAttempt = second
        sameWorkerOldAttempt.job.attempt = 1
        #expect(try JobQueue.finish(on: c, workerId: "fast", [.success(sameWorkerOldAttempt, .done)]).isEmpty)
        #expect(try c.status(id) == "RUNNING")
        // The current holder finishes it.
        #expect(try JobQueue.finish(on: c, workerId: "fast", [.success(second, .done)]) == [id])
        #expect(try c.status(id) == "SUCCESS")
        #expect(try c.outcomes(id) == ["LEASE_EXPIRED", "SUCCESS"])
        let workers = try c.query("SELECT worker_id FROM certbus.job_attempts WHERE job_id = $1 ORDER BY attempt", [id])
            .map { try $0.decode("worker_id", as: String.self) }
        #expect(workers == ["slow", "fast"])
    }

    @Test func rescuerFailsJobsWithoutAttemptsLeftAndHonoursCancel() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let spent = try JobQueue.enqueue(on: c, NewJob(kind: .noop, maxAttempts: 1))
        let cancelled = try JobQueue.enqueue(on: c, NewJob(kind: .noop, maxAttempts: 5))
        let healthy = try JobQueue.enqueue(on: c, NewJob(kind: .noop, maxAttempts: 5))
        _ = try JobQueue.claim(on: c, workerId: "dead", limit: 2, queues: ["default"], kinds: nil, leaseSeconds: 0.05)
        _ = try JobQueue.claim(on: c, workerId: "alive", limit: 1, queues: ["default"], kinds: nil, leaseSeconds: 60)
        _ = try JobQueue.cancel(on: c, jobId: cancelled, actor: .user("ops"))
        Thread.sleep(forTimeInterval: 0.1)
        let summary = try JobQueue.rescueExpired(on: c, backoff: Backoff())
        #expect(summary == RescueSummary(requeued: 0, failed: 1, cancelled: 1))
        #expect(try c.status(spent) == "FAILED")
        #expect(try c.status(cancelled) == "CANCELLED")
        #expect(try c.status(healthy) == "RUNNING", "a live lease is left alone")
        #expect(try c.outcomes(spent) == ["LEASE_EXPIRED"])
        #expect(try JobQueue.job(on: c, id: spent)?.error?.contains("on dead") == true)
        #expect(try JobQueue.rescueExpired(on: c, backoff: Backoff()).total == 0, "nothing twice")
    }

    @Test func heartbeatExtendsOnlyOwnLeasesUpToMaximumRunTime() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try JobQueue.enqueue(on: c, batch: [NewJob(kind: .noop), NewJob(kind: .noop)])
        let mine = try #require(try JobQueue.claim(on: c, workerId: "me", limit: 1, queues: ["default"], kinds: nil, leaseSeconds: 5).first)
        let theirs = try #require(try JobQueue.claim(on: c, workerId: "them", limit: 1, queues: ["default"], kinds: nil, leaseSeconds: 5).first)
        let result = try JobQueue.heartbeat(
            on: c, workerId: "me",
            jobs: [
                HeldJob(jobId: mine.job.id, attempt: mine.job.attempt, maximumRunTime: 300),
                HeldJob(jobId: theirs.job.id, attempt: theirs.job.attempt, maximumRunTime: 300),
            ], leaseSeconds: 60)
        #expect(result.held == [mine.job.id])
        #expect(result.lost == [theirs.job.id])
        let lease = try c.value("SELECT extract(epoch FROM lease_expires_at - now())::float8 AS v FROM certbus.jobs WHERE id = $1", [mine.job.id], as: Double.self)
        #expect(lease > 30)
        // Past the maximum run time the lease stops growing and the job is reported lost.
        let capped = try JobQueue.heartbeat(
            on: c, workerId: "me", jobs: [HeldJob(jobId: mine.job.id, attempt: mine.job.attempt, maximumRunTime: 0)], leaseSeconds: 60)
        #expect(capped.lost == [mine.job.id])
        _ = try JobQueue.cancel(on: c, jobId: theirs.job.id, actor: .user("ops"))
        let flagged = try JobQueue.heartbeat(
            on: c, workerId: "them", jobs: [HeldJob(jobId: theirs.job.id, attempt: theirs.job.attempt, maximumRunTime: 300)], leaseSeconds: 60)
        #expect(flagged.cancelRequested == [theirs.job.id])
    }

    @Test func claimUsesThePartialIndex() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try JobQueue.enqueue(on: c, batch: (0..<5000).map { _ in NewJob(kind: .noop) })
        try c.execute("ANALYZE certbus.jobs")
        let plan = try c.query(
            """
            EXPLAIN SELECT id FROM certbus.jobs WHERE status = 'QUEUED' AND run_at <= now() AND queue = ANY ('{default}')
             ORDER BY priority, run_at, id LIMIT 10 FOR UPDATE SKIP LOCKED
            """
        ).map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
        #expect(plan.contains("jobs_claimable"), "\(plan)")
    }

    @Test func fencedUpdatesUseThePrimaryKeyEvenWithStaleStatistics() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try JobQueue.enqueue(on: c, batch: (0..<3000).map { _ in NewJob(kind: .noop) })
        try c.execute("ANALYZE certbus.jobs")  // statistics now say: nothing is RUNNING
        let claimed = try JobQueue.claim(on: c, workerId: "w", limit: 3000, queues: ["default"], kinds: nil, leaseSeconds: 60)
        #expect(claimed.count == 3000)
        let plan = try c.query(
            "EXPLAIN UPDATE certbus.jobs j SET status = 'SUCCESS' WHERE j.id = $1 AND j.attempt = 1 AND j.status = 'RUNNING' AND j.locked_by = 'w'",
            [claimed[0].job.id]
        ).map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
        #expect(plan.contains("jobs_pkey"), "\(plan)")
        #expect(try JobQueue.finish(on: c, workerId: "w", claimed.map { .success($0, .done) }).count == 3000)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.job_attempts", as: Int.self) == 3000)
    }

    @Test func retentionDeletesOldFinishedJobsInBatches() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let ids = try JobQueue.enqueue(on: c, batch: (0..<25).map { _ in NewJob(kind: .noop) }).compactMap { $0 }
        let claimed = try JobQueue.claim(on: c, workerId: "w", limit: 25, queues: ["default"], kinds: nil, leaseSeconds: 30)
        try JobQueue.finish(on: c, workerId: "w", claimed.prefix(20).map { .success($0, .done) })
        try JobQueue.finish(on: c, workerId: "w", claimed.suffix(5).map { .failure($0, .permanent("bad"), retryDelay: 0) })
        // Age ten successes and two failures past their retention.
        try c.execute("UPDATE certbus.jobs SET completed_at = now() - interval '8 days', started_at = now() - interval '8 days' WHERE id = ANY($1::bigint[])", [Array(ids.prefix(10))])
        try c.execute("UPDATE certbus.jobs SET completed_at = now() - interval '8 days', started_at = now() - interval '8 days' WHERE id = ANY($1::bigint[])", [Array(ids.suffix(2))])
        let task = JobRetention(policy: JobRetentionPolicy(), batchSize: 3)
        #expect(try task.run(c) == "deleted 10 finished jobs past retention")
        #expect(try c.value("SELECT count(*) AS v FROM certbus.jobs", as: Int.self) == 15, "failures are kept longer (30 days)")
        #expect(try c.value("SELECT count(*) AS v FROM certbus.job_attempts WHERE job_id = ANY($1::bigint[])", [Array(ids.prefix(10))], as: Int.self) == 0)
        try c.execute("UPDATE certbus.jobs SET completed_at = now() - interval '31 days', started_at = now() - interval '31 days' WHERE id = ANY($1::bigint[])", [Array(ids.suffix(2))])
        #expect(try task.run(c) == "deleted 2 finished jobs past retention")
        #expect(try c.value("SELECT count(*) AS v FROM certbus.job_attempts", as: Int.self) == 13)
    }

    @Test func vacuumTaskVacuumsWhenDeadRowsPileUp() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let task = JobVacuum(interval: 1, minimumDeadRows: 100)
        #expect(try task.run(c) == "nothing to vacuum")
        _ = try JobQueue.enqueue(on: c, batch: (0..<500).map { _ in NewJob(kind: .noop) })
        try c.execute("DELETE FROM certbus.jobs")
        // Statistics reach pg_stat_user_tables within a second or so.
        var summary = ""
        #expect(try eventually {
            summary = try task.run(c)
            return summary.contains("vacuumed jobs")
        }, "\(summary)")
        #expect(try c.value("SELECT n_dead_tup AS v FROM pg_stat_user_tables WHERE relid = 'certbus.jobs'::regclass", as: Int.self) < 100)
    }

    @Test func viewsShowRunningFailedAndDepth() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try JobQueue.enqueue(on: c, batch: (0..<4).map { _ in NewJob(kind: .noop) } + [NewJob(kind: .noop, runAt: Date().addingTimeInterval(3600))])
        let claimed = try JobQueue.claim(on: c, workerId: "w", limit: 2, queues: ["default"], kinds: nil, leaseSeconds: 30)
        try JobQueue.finish(on: c, workerId: "w", [.failure(claimed[0], .permanent("boom"), retryDelay: 0)])
        let running = try c.query("SELECT * FROM certbus.running_jobs")
        #expect(running.count == 1)
        #expect(try running[0].decode("locked_by", as: String.self) == "w")
        let failed = try c.query("SELECT * FROM certbus.failed_jobs_last_day")
        #expect(try failed.map { try $0.decode("error", as: String.self) } == ["boom"])
        let depth = try c.query("SELECT * FROM certbus.queue_depth WHERE kind = 'NOOP'")[0]
        #expect(try depth.decode("queued", as: Int.self) == 3)
        #expect(try depth.decode("due", as: Int.self) == 2)
        #expect(try depth.decode("running", as: Int.self) == 1)
    }
}
