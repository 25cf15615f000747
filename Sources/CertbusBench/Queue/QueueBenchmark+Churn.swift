import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// The drain rate again after millions of jobs went through workers and the retention task.
extension QueueBenchmark {
    /// Churn the way production does: worker processes drain a queue kept topped up by batched
    /// enqueues, while the retention task (with a retention of zero) deletes finished jobs and their
    /// attempt rows 1,000 at a time, and autovacuum works with the table's own settings.
    func measureChurn(url: String, c: Connection, into results: inout Results) throws {
        guard churnJobs > 0 else { return }
        let workerCount = workerCounts.contains(2) ? 2 : (workerCounts.first ?? 1)
        log("churn: drain rate of a fresh table, \(workerCount) workers, 3 runs")
        try reset(c)
        try c.execute("VACUUM FULL certbus.jobs")
        try c.execute("VACUUM FULL certbus.job_attempts")
        for _ in 0..<3 {
            let run = try drain(url: url, c: c, workers: workerCount, jobs: drainJobs)
            log(String(format: "  %.0f jobs/s", run.jobsPerSecond))
            results.churnBefore.append(run)
        }
        try reset(c)
        log("churn: \(churnJobs) jobs through \(workerCount) workers, finished jobs deleted by the retention task as they finish")
        let workers = try spawnWorkers(url: url, count: workerCount, concurrency: concurrency)
        defer { workers.forEach { $0.stop() } }
        let feederDone = BenchLocked(false)
        let retention = BenchLocked(0)
        let retentionError = BenchLocked<String?>(nil)
        let retentionThread = Thread {
            do {
                let rc = try Connection.connect(url, applicationName: "certbus-bench-retention")
                defer { rc.close() }
                let policy = JobRetentionPolicy(successful: 0, unsuccessful: 0)
                while true {
                    let n = try JobRetention.deleteBatch(on: rc, policy: policy, limit: 1000)
                    retention.add(n)
                    if n == 0 {
                        if feederDone.value { break }
                        Thread.sleep(forTimeInterval: 0.01)
                    }
                }
            } catch {
                retentionError.value = String(describing: error)
            }
            feederDone.value = true
        }
        let updatesBefore = try jobUpdates(c)
        let start = DispatchTime.now()
        retentionThread.start()
        var enqueued = 0
        let batch = (0..<churnBatch).map { _ in NewJob(kind: .noop) }
        var nextReport = churnJobs / 4
        while enqueued < churnJobs {
            if let dead = workers.first(where: { $0.wait(timeout: 0) != nil }) {
                throw BenchmarkError("a worker exited during the churn:\n\(dead.log)")
            }
            let waiting = try c.query("SELECT count(*) AS n FROM certbus.jobs WHERE status = 'QUEUED'")[0].decode("n", as: Int.self)
            if waiting < churnBatch {
                let n = min(churnBatch, churnJobs - enqueued)
                _ = try JobQueue.enqueue(on: c, batch: Array(batch.prefix(n)))
                enqueued += n
                if enqueued >= nextReport {
                    log("  \(enqueued) jobs enqueued")
                    nextReport += churnJobs / 4
                }
            } else {
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        try waitUntilDrained(c, workers: workers, timeout: 600)
        feederDone.value = true
        while retention.value < churnJobs, retentionError.value == nil { Thread.sleep(forTimeInterval: 0.05) }
        if let error = retentionError.value { throw BenchmarkError("the retention task failed: \(error)") }
        results.churnJobs = enqueued
        results.churnSeconds = BenchClock.seconds(since: start)
        results.tableBytesAfterChurn = try c.query("SELECT pg_total_relation_size('certbus.jobs')::bigint AS v")[0].decode("v", as: Int.self)
        workers.forEach { $0.stop() }
        if let before = updatesBefore, let after = try jobUpdates(c) {
            results.churnUpdates = (after.all - before.all, after.hot - before.hot)
        }
        log("churn: drain rate of the same table after \(enqueued) processed and deleted jobs, 3 runs")
        for _ in 0..<3 {
            let run = try drain(url: url, c: c, workers: workerCount, jobs: drainJobs, keepingTable: true)
            log(String(format: "  %.0f jobs/s", run.jobsPerSecond))
            results.churnAfter.append(run)
        }
        log("churn: plans of a claim and a completion of 500 jobs on the churned table")
        try c.execute("DELETE FROM certbus.jobs")
        try fillQuickly(c, jobs: 1000)
        results.churnPlans = try PlanCapture.plans(on: c) {
            let claimed = try JobQueue.claim(on: c, workerId: "plan", limit: 500, queues: ["default"], kinds: nil, leaseSeconds: 60)
            try JobQueue.finish(on: c, workerId: "plan", claimed.map {
                AttemptResult(jobId: $0.job.id, attempt: $0.job.attempt, outcome: .success(output: nil, issuedCertificateId: nil, caRequestId: nil))
            })
        }
    }

    /// Row updates of certbus.jobs so far, and how many were heap-only (HOT); the statistics are
    /// flushed first so that they include this session's and recent ones.
    func jobUpdates(_ c: Connection) throws -> (all: Int, hot: Int)? {
        _ = try? c.query("SELECT pg_stat_force_next_flush()")
        Thread.sleep(forTimeInterval: 1.1)  // other sessions flush their counters at most once a second
        guard let row = try c.query("SELECT n_tup_upd::bigint AS u, n_tup_hot_upd::bigint AS h FROM pg_stat_user_tables WHERE relid = 'certbus.jobs'::regclass").firstRow
        else { return nil }
        return (try row.decode("u", as: Int.self), try row.decode("h", as: Int.self))
    }
}
