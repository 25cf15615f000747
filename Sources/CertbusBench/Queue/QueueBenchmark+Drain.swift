import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// The drain rate of NOOP jobs with 1, 2, 4 ... `certbus worker` processes.
extension QueueBenchmark {
    /// Fills `jobs` NOOP jobs and drains them with `count` worker processes. The table is
    /// truncated first (a new, compact file) unless `keepingTable`, which deletes the rows
    /// instead, so a table that has been through a churn keeps its file, its free space and its
    /// indexes as they are.
    func drain(url: String, c: Connection, workers count: Int, jobs: Int, keepingTable: Bool = false) throws -> DrainRun {
        if keepingTable {
            try c.execute("DELETE FROM certbus.jobs")
            try c.execute("DELETE FROM certbus.job_attempts")
        } else {
            try reset(c)
        }
        try fill(c, jobs: jobs)
        // Same WAL state for every measured drain: pages touched after a checkpoint are logged in
        // full once. (Needs superuser or pg_checkpoint; without it the drains just skip this.)
        _ = try? c.execute("CHECKPOINT")
        let workers = try spawnWorkers(url: url, count: count, concurrency: concurrency)
        defer { workers.forEach { $0.stop() } }
        try waitUntilDrained(c, workers: workers, timeout: 600)
        let rss = workers.compactMap(\.peakResidentBytes).max() ?? 0
        // CPU of the workers and of their server sessions, read before they exit.
        let backends = try c.query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'certbus-worker'"
        ).map { try $0.decode("pid", as: Int32.self) }
        let workerCPU = BenchClock.processCPUSeconds(workers.map(\.pid))
        let backendCPU = BenchClock.processCPUSeconds(backends)
        let row = try c.query(
            """
            SELECT count(*) AS n, extract(epoch FROM max(completed_at) - min(started_at))::float8 AS seconds
              FROM certbus.jobs WHERE status = 'SUCCESS'
            """)[0]
        let n = try row.decode("n", as: Int.self)
        guard n == jobs else { throw BenchmarkError("expected \(jobs) successful jobs, found \(n)") }
        return DrainRun(workers: count, jobs: jobs, seconds: try row.decode("seconds", as: Double.self), peakRSSBytes: rss,
                        workerCPUSeconds: workerCPU, backendCPUSeconds: backendCPU)
    }

    func measureDrains(url: String, c: Connection, into results: inout Results) throws {
        for count in workerCounts {
            log("drain: \(drainJobs) NOOP jobs with \(count) worker process(es), --concurrency \(concurrency)")
            let run = try drain(url: url, c: c, workers: count, jobs: drainJobs)
            log(String(format: "  %.0f jobs/s", run.jobsPerSecond))
            results.drains.append(run)
        }
    }
}
