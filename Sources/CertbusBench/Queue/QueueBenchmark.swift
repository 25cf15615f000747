import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// `certbus bench queue`: every measurement of the job queue in one run, in a scratch
/// database created next to the configured one (and dropped at the end). One file per
/// phase: enqueue, drain, latency, ceiling (pgbench), churn.
public struct QueueBenchmark: Sendable {
    /// Single-job enqueues per concurrent enqueue measurement.
    public var enqueueJobs = 4000
    /// Concurrent connections of the single-job enqueue measurements.
    public var enqueueClients = 8
    /// Jobs per batched enqueue measurement.
    public var batchJobs = 100_000
    /// Jobs per batched enqueue statement.
    public var batchSize = 1000
    /// NOOP jobs per drain run.
    public var drainJobs = 60_000
    /// Worker process counts to drain with, one run each.
    public var workerCounts = [1, 2, 4]
    /// `--concurrency` of each worker process in the drain runs.
    public var concurrency = 64
    /// Steady enqueue rate of the latency run, jobs per second.
    public var latencyRate = 200.0
    /// Length of the latency run, seconds.
    public var latencySeconds = 10.0
    /// Length of each pgbench run, seconds.
    public var pgbenchSeconds = 10
    /// pgbench client counts; the best is the ceiling.
    public var pgbenchClients = [1, 4, 8, 16]
    /// Jobs per claim and per completion in the batched pgbench ceiling.
    public var pgbenchBatch = 100
    /// The pgbench program; nil looks in the server's bindir, then PATH.
    public var pgbenchPath: String?
    /// Jobs run and deleted before the second drain measurement (0 skips the churn).
    public var churnJobs = 2_000_000
    /// Jobs per enqueue during the churn.
    public var churnBatch = 10_000
    /// The `certbus` executable to start workers from.
    public var executable: String
    /// Receives one line per phase.
    let log: @Sendable (String) -> Void

    /// A benchmark starting its workers from `executable` and reporting phases to `log`.
    public init(executable: String, log: @escaping @Sendable (String) -> Void) {
        self.executable = executable
        self.log = log
    }

    /// One drain: how many workers drained how many jobs in how long.
    public struct DrainRun: Sendable {
        public var workers: Int
        public var jobs: Int
        public var seconds: Double
        public var jobsPerSecond: Double { Double(jobs) / seconds }
        public var peakRSSBytes: Int
        /// CPU seconds of the worker processes (start-up included) and of their server backends;
        /// nil when unreadable (a server on another machine). Steadier than wall time on a shared machine.
        public var workerCPUSeconds: Double? = nil
        public var backendCPUSeconds: Double? = nil
        public var workerCPUMicrosecondsPerJob: Double? { workerCPUSeconds.map { $0 / Double(jobs) * 1e6 } }
        public var cpuMicrosecondsPerJob: Double? {
            guard let w = workerCPUSeconds, let b = backendCPUSeconds else { return nil }
            return (w + b) / Double(jobs) * 1e6
        }
    }

    /// Everything one run measured.
    public struct Results: Sendable {
        public var server = ""
        public var settings: [String: String] = [:]
        public var enqueue: [(String, Double)] = []
        public var notify: [(design: String, singleClients: Double?, batched: Double?)] = []
        public var drains: [DrainRun] = []
        /// Enqueue-to-start latencies in seconds, sorted.
        public var latencies: [Double] = []
        public var latencyJobs = 0
        public var latencyWorkerRSS = 0
        public var pgbench: [(clients: Int, tps: Double)] = []
        public var pgbenchAsync: (clients: Int, tps: Double)?
        /// The batched ceiling: jobs/s per client count (claim a batch, complete it, two transactions).
        public var pgbenchBatched: [(clients: Int, tps: Double)] = []
        public var churnJobs = 0
        public var churnSeconds = 0.0
        /// Drains on a fresh table, then on the same table after the churn (median is the figure).
        public var churnBefore: [DrainRun] = []
        public var churnAfter: [DrainRun] = []
        public var tableBytesAfterChurn = 0
        /// Updates of certbus.jobs during the churn and how many of them were heap-only (HOT), from pg_stat_user_tables.
        public var churnUpdates: (all: Int, hot: Int)?
        /// Plans (auto_explain, ANALYZE) of one claim and one completion of 500 jobs on the churned table.
        public var churnPlans: [String] = []
    }

    /// Runs every phase in a scratch database next to `baseConnectionString`'s and drops it after.
    public func run(baseConnectionString: String) throws -> Results {
        var results = Results()
        let scratch = try ScratchDatabase(near: baseConnectionString, purpose: "queue")
        defer { scratch.drop() }
        let url = scratch.connectionString
        let c = try scratch.migratedConnection(progress: log)
        defer { c.close() }
        results.server = try c.query("SELECT version() AS v")[0].decode("v", as: String.self)
        for setting in ["fsync", "synchronous_commit", "shared_buffers", "max_connections", "wal_sync_method"] {
            results.settings[setting] = try c.query("SELECT current_setting($1) AS v", [setting])[0].decode("v", as: String.self)
        }

        try measureEnqueue(url: url, c: c, into: &results)
        try measureDrains(url: url, c: c, into: &results)
        try measureLatency(url: url, c: c, into: &results)
        try measurePgbench(url: url, c: c, into: &results)
        try measureChurn(url: url, c: c, into: &results)
        return results
    }

    /// Only the churn phase (drains before and after, plans on the churned table), in its own
    /// scratch database: `certbus bench growth` uses it.
    public func runChurn(baseConnectionString: String) throws -> Results {
        var results = Results()
        let scratch = try ScratchDatabase(near: baseConnectionString, purpose: "churn")
        defer { scratch.drop() }
        let c = try scratch.migratedConnection(progress: log)
        defer { c.close() }
        try measureChurn(url: scratch.connectionString, c: c, into: &results)
        return results
    }

    // MARK: - Shared by the phases

    func reset(_ c: Connection) throws {
        try c.execute("TRUNCATE certbus.jobs, certbus.job_attempts, certbus.noop_runs")
    }

    func spawnWorkers(url: String, count: Int, concurrency: Int) throws -> [BenchProcess] {
        try (0..<count).map { _ in
            try BenchProcess(
                executable,
                ["worker", "--database-url", url, "--concurrency", String(concurrency), "--quiet", "--poll-interval", "1"])
        }
    }

    func fill(_ c: Connection, jobs: Int) throws {
        try c.withTransaction { tx in
            try tx.execute("SET LOCAL certbus.defer_job_notify = on")
            let batch = (0..<5000).map { _ in NewJob(kind: .noop) }
            var done = 0
            while done < jobs {
                let n = min(batch.count, jobs - done)
                _ = try JobQueue.enqueue(on: tx, batch: Array(batch.prefix(n)))
                done += n
            }
        }
        try c.execute("VACUUM ANALYZE certbus.jobs")
    }

    /// Waits until no job is QUEUED or RUNNING; throws after `timeout` seconds.
    func waitUntilDrained(_ c: Connection, workers: [BenchProcess], timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let busy = try c.query("SELECT EXISTS (SELECT 1 FROM certbus.jobs WHERE status IN ('QUEUED', 'RUNNING')) AS v")[0]
                .decode("v", as: Bool.self)
            if !busy { return }
            if let dead = workers.first(where: { $0.wait(timeout: 0) != nil }) {
                throw BenchmarkError("a worker exited early:\n\(dead.log)")
            }
            if Date() > deadline { throw BenchmarkError("the queue did not drain within \(Int(timeout)) s") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}
