import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

/// In-process workers against a real database: running, retrying, failing, cancelling, scheduling, shutdown.
@Suite struct WorkerTests {
    @Test func drainsJobsAndRecordsEachAttempt() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let ids = try JobQueue.enqueue(on: c, batch: (0..<300).map { _ in NewJob(kind: .noop, payloadJSON: #"{"record": "commit"}"#) })
        _ = try JobQueue.enqueue(on: c, batch: (0..<300).map { _ in NewJob(kind: .noop) })
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: testOptions(), log: .silent)
        try worker.start()
        #expect(try eventually { try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'SUCCESS'", as: Int.self) == 600 })
        worker.stop(grace: 5)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.noop_runs WHERE phase = 'commit'", as: Int.self) == 300)
        #expect(try c.value("SELECT count(DISTINCT job_id) AS v FROM certbus.noop_runs", as: Int.self) == 300)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.job_attempts WHERE outcome = 'SUCCESS' AND attempt = 1", as: Int.self) == 600)
        let record = try #require(try JobQueue.job(on: c, id: ids[0]!))
        #expect(record.status == .success)
        #expect(record.attempt == 1)
        #expect(record.lockedBy == nil && record.leaseExpiresAt == nil)
        #expect(record.durationSeconds != nil)
        #expect(record.output == #"{"noop": true}"#)
        let stats = worker.statistics
        #expect(stats.claimed == 600 && stats.succeeded == 600 && stats.failed == 0 && stats.discarded == 0)
        #expect(stats.flushes < 600, "results without commit closures are recorded in batches")
    }

    @Test func retryableFailuresBackOffThenFail() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let failing = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"fail": "retryable"}"#, maxAttempts: 3))
        let flaky = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"fail_attempts": 2}"#, maxAttempts: 5))
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: testOptions(), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(failing) == "FAILED" && c.status(flaky) == "SUCCESS" })
        worker.stop(grace: 5)
        #expect(try c.outcomes(failing) == ["RETRY", "RETRY", "FAILED"])
        #expect(try c.outcomes(flaky) == ["RETRY", "RETRY", "SUCCESS"])
        let failed = try #require(try JobQueue.job(on: c, id: failing))
        #expect(failed.attempt == 3 && failed.maxAttempts == 3)
        #expect(failed.error?.contains("attempt 3") == true)
        #expect(failed.completedAt != nil)
        // The retries waited for their backoff (database clock): attempt n+1 started after attempt n finished + delay.
        let gaps = try c.query(
            """
            SELECT extract(epoch FROM a2.started_at - a1.finished_at)::float8 AS gap
              FROM certbus.job_attempts a1 JOIN certbus.job_attempts a2 ON a2.job_id = a1.job_id AND a2.attempt = a1.attempt + 1
             WHERE a1.job_id = $1
            """, [failing]
        ).map { try $0.decode("gap", as: Double.self) }
        #expect(gaps.count == 2)
        #expect(gaps.allSatisfy { $0 >= 0.049 }, "retries respect the backoff delay: \(gaps)")
        #expect(try JobQueue.job(on: c, id: flaky)?.error == nil, "a success clears the last error")
    }

    @Test func permanentFailureDoesNotRetry() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"fail": "permanent"}"#, maxAttempts: 5))
        let malformed = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"sleep_ms": "soon"}"#, maxAttempts: 5))
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: testOptions(), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(id) == "FAILED" && c.status(malformed) == "FAILED" })
        worker.stop(grace: 5)
        #expect(try c.outcomes(id) == ["FAILED"])
        #expect(try c.outcomes(malformed) == ["FAILED"])
        #expect(try JobQueue.job(on: c, id: malformed)?.error?.contains("invalid NOOP payload") == true)
    }

    @Test func commitClosureSharesTheSuccessTransaction() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try registerKind(c, "TEST_EFFECT", maxAttempts: 2)
        try c.execute("CREATE TABLE effects (job_id bigint, attempt int, note text)")
        let handler = ClosureHandler(kind: JobKind("TEST_EFFECT")) { job, _ in
            let attempt = job.attempt
            return JobCompletion(output: "plain text output") { c in
                try c.execute("INSERT INTO effects VALUES ($1, $2, 'written')", [job.id, attempt])
                if attempt == 1 { throw JobFailure.retryable("the commit failed on attempt 1") }
            }
        }
        let id = try JobQueue.enqueue(on: c, NewJob(kind: JobKind("TEST_EFFECT")))
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([handler]), options: testOptions(), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(id) == "SUCCESS" })
        worker.stop(grace: 5)
        // Attempt 1's effect rolled back with its failed commit; attempt 2's committed with SUCCESS.
        #expect(try c.query("SELECT attempt FROM effects").map { try $0.decode("attempt", as: Int.self) } == [2])
        #expect(try c.outcomes(id) == ["RETRY", "SUCCESS"])
        #expect(try JobQueue.job(on: c, id: id)?.output == #""plain text output""#, "non-JSON output is stored as a JSON string")
    }

    @Test func failureEffectsCommitWithTheFailure() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try registerKind(c, "TEST_BAD_CSR")
        try c.execute("CREATE TABLE effects (job_id bigint, note text)")
        let handler = ClosureHandler(kind: JobKind("TEST_BAD_CSR")) { job, _ in
            throw JobFailure.permanent("the CSR signature does not verify") { c in
                try c.execute("INSERT INTO effects VALUES ($1, 'alert raised')", [job.id])
            }
        }
        let id = try JobQueue.enqueue(on: c, NewJob(kind: JobKind("TEST_BAD_CSR")))
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([handler]), options: testOptions(), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(id) == "FAILED" })
        worker.stop(grace: 5)
        #expect(try c.value("SELECT count(*) AS v FROM effects", as: Int.self) == 1)
        #expect(try JobQueue.job(on: c, id: id)?.error == "the CSR signature does not verify")
    }

    @Test func prioritiesAreHonoured() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try registerKind(c, "TEST_ORDER")
        let order = Locked<[Int]>([])
        let handler = ClosureHandler(kind: JobKind("TEST_ORDER")) { job, _ in
            order.withLock { $0.append(job.priority) }
            return .done
        }
        let priorities = [500, 3, 100, 0, 999, 42, 100, 7, 250, 1]
        _ = try JobQueue.enqueue(on: c, batch: priorities.map { NewJob(kind: JobKind("TEST_ORDER"), priority: $0) })
        var options = testOptions(concurrency: 1)
        options.maximumClaimBatch = 1
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([handler]), options: options, log: .silent)
        try worker.start()
        #expect(eventually { order.current.count == priorities.count })
        worker.stop(grace: 5)
        #expect(order.current == priorities.sorted())
    }

    @Test func runAtIsHonoured() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let later = try JobQueue.enqueue(on: c, NewJob(kind: .noop, runAt: Date().addingTimeInterval(1.0)))
        let now = try JobQueue.enqueue(on: c, NewJob(kind: .noop))
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: testOptions(), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(now) == "SUCCESS" })
        #expect(try eventually { try c.status(later) == "SUCCESS" })
        worker.stop(grace: 5)
        let record = try #require(try JobQueue.job(on: c, id: later))
        #expect(try #require(record.startedAt) >= record.runAt, "not started before its scheduled time")
    }

    @Test func cancelQueuedAndRunningJobs() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let queued = try JobQueue.enqueue(on: c, NewJob(kind: .noop, runAt: Date().addingTimeInterval(3600)))
        let long = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"sleep_ms": 60000}"#))
        #expect(try JobQueue.cancel(on: c, jobId: queued, actor: .user("alice")) == .cancelled)
        #expect(try c.status(queued) == "CANCELLED")
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: testOptions(lease: 0.6), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(long) == "RUNNING" })
        #expect(try JobQueue.cancel(on: c, jobId: long, actor: .user("bob")) == .cancelRequested)
        // The heartbeat tells the handler, which stops; the job ends CANCELLED, not retried.
        #expect(try eventually { try c.status(long) == "CANCELLED" })
        worker.stop(grace: 5)
        #expect(try c.outcomes(long) == ["CANCELLED"])
        #expect(try c.outcomes(queued) == [], "a queued job never ran")
        // Both cancels are audited, in the same transaction as the change.
        let audit = try c.query(
            "SELECT entity_id, actor_id, details ->> 'outcome' AS outcome FROM certbus.audit_log WHERE action = 'JOB_CANCELLED' ORDER BY id")
        #expect(try audit.map { try $0.decode("actor_id", as: String.self) } == ["alice", "bob"])
        #expect(try audit.map { try $0.decode("outcome", as: String.self) } == ["CANCELLED", "CANCEL_REQUESTED"])
        // A finished job cannot be cancelled, and nothing is written.
        let error = try #require(throws: JobQueueError.self) { try JobQueue.cancel(on: c, jobId: queued, actor: .user("alice")) }
        #expect(error.reason == .wrongState)
        #expect(error.message.contains("already CANCELLED"))
        #expect(try #require(throws: JobQueueError.self) { try JobQueue.cancel(on: c, jobId: 999_999, actor: .user("alice")) }.reason == .notFound)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.audit_log WHERE action = 'JOB_CANCELLED'", as: Int.self) == 2)
    }

    @Test func manualRetryRunsAFailedJobAgain() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"fail_attempts": 1}"#, maxAttempts: 1))
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: testOptions(), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(id) == "FAILED" })
        #expect(try #require(throws: JobQueueError.self) { try JobQueue.retry(on: c, jobId: 424_242, actor: .user("carol")) }.reason == .notFound)
        try JobQueue.retry(on: c, jobId: id, actor: .user("carol"))
        #expect(try eventually { try c.status(id) == "SUCCESS" })
        worker.stop(grace: 5)
        #expect(try c.outcomes(id) == ["FAILED", "SUCCESS"])
        let record = try #require(try JobQueue.job(on: c, id: id))
        #expect(record.attempt == 2)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.audit_log WHERE action = 'JOB_RETRIED' AND actor_id = 'carol'", as: Int.self) == 1)
        let error = try #require(throws: JobQueueError.self) { try JobQueue.retry(on: c, jobId: id, actor: .user("carol")) }
        #expect(error.reason == .wrongState, "a successful job is not retried")
    }

    @Test func heartbeatsKeepLongJobsAlive() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"sleep_ms": 1500}"#))
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: testOptions(lease: 0.4), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(id) == "SUCCESS" })
        worker.stop(grace: 5)
        #expect(try c.outcomes(id) == ["SUCCESS"], "the lease (0.4 s) was extended for the 1.5 s job and never expired")
    }

    @Test func maximumRunTimeStopsExtendingTheLease() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try registerKind(c, "TEST_SLOW", maxAttempts: 1)
        let sawCancel = Locked(false)
        let handler = ClosureHandler(kind: JobKind("TEST_SLOW"), maximumRunTime: 0.5) { _, context in
            let deadline = Date().addingTimeInterval(30)
            while !context.isCancelled && Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
            sawCancel.withLock { $0 = context.isCancelled }
            Thread.sleep(forTimeInterval: 1.5)  // ignore the request a while: the rescuer must act
            return .done
        }
        let id = try JobQueue.enqueue(on: c, NewJob(kind: JobKind("TEST_SLOW")))
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([handler]), options: testOptions(lease: 5), log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(id) == "FAILED" })
        #expect(eventually { sawCancel.current }, "the handler was told to stop at its maximum run time")
        worker.stop(grace: 5)
        #expect(try c.outcomes(id) == ["LEASE_EXPIRED"], "the late success was refused by the fence")
        #expect(try JobQueue.job(on: c, id: id)?.error?.contains("lease expired") == true)
    }

    @Test func shutdownHandsBackUnfinishedJobs() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let quick = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"sleep_ms": 300}"#, priority: 0))
        let slow = try JobQueue.enqueue(on: c, batch: (0..<3).map { _ in NewJob(kind: .noop, payloadJSON: #"{"sleep_ms": 60000}"#, priority: 1) })
            .compactMap { $0 }
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: testOptions(concurrency: 4, maintenance: false), log: .silent)
        try worker.start()
        #expect(try eventually { try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'RUNNING'", as: Int.self) == 4 })
        worker.stop(grace: 1)
        #expect(try c.status(quick) == "SUCCESS", "a job that finished within the grace period is recorded")
        for id in slow {
            let record = try #require(try JobQueue.job(on: c, id: id))
            #expect(record.status == .queued)
            #expect(record.attempt == 0, "a hand-back does not count the attempt")
            #expect(record.lockedBy == nil)
        }
        #expect(worker.statistics.handedBack == 3)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.job_attempts WHERE job_id = ANY($1::bigint[])", [slow], as: Int.self) == 0)
    }

    @Test func workerRefusesKindsWithoutHandlers() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        var options = testOptions()
        options.kinds = [.noop, .issueCertificate]
        let error = try #require(throws: JobQueueError.self) {
            try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: options, log: .silent)
        }
        #expect(error.message.contains("no handler for ISSUE_CERT"))
    }

    @Test func workerServesOnlyItsQueuesAndKinds() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try registerKind(c, "TEST_OTHER")
        let mine = try JobQueue.enqueue(on: c, NewJob(kind: .noop, queue: "fast"))
        let otherQueue = try JobQueue.enqueue(on: c, NewJob(kind: .noop))
        let otherKind = try JobQueue.enqueue(on: c, NewJob(kind: JobKind("TEST_OTHER"), queue: "fast"))
        var options = testOptions()
        options.queues = ["fast"]
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: options, log: .silent)
        try worker.start()
        #expect(try eventually { try c.status(mine) == "SUCCESS" })
        Thread.sleep(forTimeInterval: 0.5)
        worker.stop(grace: 5)
        #expect(try c.status(otherQueue) == "QUEUED")
        #expect(try c.status(otherKind) == "QUEUED")
    }
}
