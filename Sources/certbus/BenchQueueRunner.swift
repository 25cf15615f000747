import CertbusBus
import CertbusCore
import CertbusDatabase
import CertbusServices
import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// `certbus bench queue`: every measurement of the job queue in one run, in a scratch
/// database created next to the configured one (and dropped at the end).
struct QueueBenchmark {
    var enqueueJobs = 4000
    var enqueueClients = 8
    var batchJobs = 100_000
    var batchSize = 1000
    var drainJobs = 60_000
    var workerCounts = [1, 2, 4]
    var concurrency = 64
    var latencyRate = 200.0
    var latencySeconds = 10.0
    var pgbenchSeconds = 10
    var pgbenchClients = [1, 4, 8, 16]
    var pgbenchPath: String?
    var churnJobs = 2_000_000
    var churnBatch = 10_000
    /// The `certbus` executable to start workers from.
    var executable: String

    struct DrainRun: Sendable {
        var workers: Int
        var jobs: Int
        var seconds: Double
        var jobsPerSecond: Double { Double(jobs) / seconds }
        var peakRSSBytes: Int
    }

    struct Results: Sendable {
        var server = ""
        var settings: [String: String] = [:]
        var enqueue: [(String, Double)] = []
        var notify: [(design: String, singleClients: Double?, batched: Double?)] = []
        var drains: [DrainRun] = []
        var latencies: [Double] = []
        var latencyJobs = 0
        var latencyWorkerRSS = 0
        var pgbench: [(clients: Int, tps: Double)] = []
        var pgbenchAsync: (clients: Int, tps: Double)?
        var churnJobs = 0
        var churnSeconds = 0.0
        /// Drains on a fresh table, then on the same table after the churn (median is the figure).
        var churnBefore: [DrainRun] = []
        var churnAfter: [DrainRun] = []
        var tableBytesAfterChurn = 0
    }

    let log: (String) -> Void

    func run(baseConnectionString: String) throws -> Results {
        var results = Results()
        let admin = try Connection.connect(baseConnectionString, applicationName: "certbus-bench")
        defer { admin.close() }
        let name = "certbus_bench_queue_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        let quoted = try admin.quoteIdentifier(name)
        try admin.execute("CREATE DATABASE \(quoted)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)") }
        let url = AuditBenchmark.connectionString(baseConnectionString, database: name)
        let c = try Connection.connect(url, applicationName: "certbus-bench")
        defer { c.close() }
        log("migrating scratch database \(name)")
        _ = try Migrator.located().migrate(c)
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

    // MARK: - Enqueue and NOTIFY

    private func reset(_ c: Connection) throws {
        try c.execute("TRUNCATE certbus.jobs, certbus.job_attempts, certbus.noop_runs")
    }

    /// `clients` threads each enqueueing single jobs in their own transactions; jobs per second.
    private func concurrentSingle(url: String, clients: Int, total: Int, session: [String], notifier: JobNotifier?) throws -> Double {
        let perClient = total / clients
        let connections = try (0..<clients).map { _ in try Connection.connect(url, applicationName: "certbus-bench") }
        defer { connections.forEach { $0.close() } }
        for connection in connections { for statement in session { try connection.execute(statement) } }
        let failures = BenchCounter()
        let group = DispatchGroup()
        let start = DispatchTime.now()
        // One OS thread per client (concurrentPerform would run only as many as there are cores).
        for connection in connections {
            group.enter()
            let thread = Thread {
                for _ in 0..<perClient {
                    do {
                        _ = try JobQueue.enqueue(on: connection, NewJob(kind: .noop))
                        notifier?.notify(queues: ["default"])
                    } catch {
                        failures.add()
                    }
                }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        let seconds = Self.seconds(since: start)
        guard failures.value == 0 else { throw CommandFailure("\(failures.value) enqueues failed") }
        return Double(perClient * clients) / seconds
    }

    /// Batches of `batchSize` on one connection; jobs per second.
    private func batched(url: String, total: Int, session: [String], notifier: JobNotifier?) throws -> Double {
        let connection = try Connection.connect(url, applicationName: "certbus-bench")
        defer { connection.close() }
        for statement in session { try connection.execute(statement) }
        let batch = (0..<batchSize).map { _ in NewJob(kind: .noop) }
        let start = DispatchTime.now()
        var done = 0
        while done < total {
            _ = try JobQueue.enqueue(on: connection, batch: batch)
            notifier?.notify(queues: ["default"])
            done += batch.count
        }
        return Double(done) / Self.seconds(since: start)
    }

    private func measureEnqueue(url: String, c: Connection, into results: inout Results) throws {
        let deferNotify = ["SET certbus.defer_job_notify = on"]
        // Warm-up (plans, caches).
        _ = try concurrentSingle(url: url, clients: 2, total: 400, session: [], notifier: nil)
        try reset(c)

        log("enqueue: single jobs, one connection, one transaction each")
        do {
            let connection = try Connection.connect(url, applicationName: "certbus-bench")
            defer { connection.close() }
            let n = max(200, enqueueJobs / 4)
            let start = DispatchTime.now()
            for _ in 0..<n { _ = try JobQueue.enqueue(on: connection, NewJob(kind: .noop)) }
            results.enqueue.append(("single, 1 connection (in-transaction NOTIFY)", Double(n) / Self.seconds(since: start)))
        }
        try reset(c)

        log("enqueue: single jobs, \(enqueueClients) connections: in-transaction NOTIFY per statement")
        let perStatementSingle = try concurrentSingle(url: url, clients: enqueueClients, total: enqueueJobs, session: [], notifier: nil)
        try reset(c)
        log("enqueue: single jobs, \(enqueueClients) connections: NOTIFY deferred to a debounced notifier")
        let notifier = JobNotifier(configuration: ConnectionConfiguration(url, applicationName: "certbus-bench"))
        let debouncedSingle = try concurrentSingle(
            url: url, clients: enqueueClients, total: enqueueJobs, session: deferNotify, notifier: notifier)
        try reset(c)
        log("enqueue: single jobs, \(enqueueClients) connections: no NOTIFY at all (floor)")
        let silentSingle = try concurrentSingle(url: url, clients: enqueueClients, total: enqueueJobs, session: deferNotify, notifier: nil)
        try reset(c)

        log("enqueue: batches of \(batchSize), one NOTIFY per statement")
        let perStatementBatch = try batched(url: url, total: batchJobs, session: [], notifier: nil)
        try reset(c)
        log("enqueue: batches of \(batchSize), NOTIFY deferred to the debounced notifier")
        let debouncedBatch = try batched(url: url, total: batchJobs, session: deferNotify, notifier: notifier)
        try reset(c)
        log("enqueue: batches of \(batchSize), no NOTIFY (floor)")
        let silentBatch = try batched(url: url, total: batchJobs, session: deferNotify, notifier: nil)
        try reset(c)

        log("enqueue: the same with a NOTIFY per row (trigger swapped in the scratch database)")
        try c.execute(
            """
            CREATE FUNCTION public.bench_notify_row() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_notify('certbus_jobs', NEW.queue); RETURN NULL; END $$
            """)
        try c.execute("ALTER TABLE certbus.jobs DISABLE TRIGGER jobs_notify")
        try c.execute("CREATE TRIGGER bench_notify_row AFTER INSERT ON certbus.jobs FOR EACH ROW EXECUTE FUNCTION public.bench_notify_row()")
        let perRowSingle = try concurrentSingle(url: url, clients: enqueueClients, total: enqueueJobs, session: [], notifier: nil)
        try reset(c)
        let perRowBatch = try batched(url: url, total: batchJobs, session: [], notifier: nil)
        try reset(c)
        try c.execute("DROP TRIGGER bench_notify_row ON certbus.jobs")
        try c.execute("ALTER TABLE certbus.jobs ENABLE TRIGGER jobs_notify")
        notifier.close()

        results.enqueue.append(("single, \(enqueueClients) connections (NOTIFY deferred, debounced)", debouncedSingle))
        results.enqueue.append(("batched \(batchSize)/statement, 1 connection (one NOTIFY per statement)", perStatementBatch))
        results.notify = [
            ("one NOTIFY per row, in the transaction", perRowSingle, perRowBatch),
            ("one NOTIFY per statement, in the transaction", perStatementSingle, perStatementBatch),
            ("deferred, one debounced NOTIFY per process", debouncedSingle, debouncedBatch),
            ("no NOTIFY (floor: workers would only poll)", silentSingle, silentBatch),
        ]
    }

    // MARK: - Drain

    private func spawnWorkers(url: String, count: Int, concurrency: Int) throws -> [BenchProcess] {
        try (0..<count).map { _ in
            try BenchProcess(
                executable,
                ["worker", "--database-url", url, "--concurrency", String(concurrency), "--quiet", "--poll-interval", "1"])
        }
    }

    private func fill(_ c: Connection, jobs: Int) throws {
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
    private func waitUntilDrained(_ c: Connection, workers: [BenchProcess], timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let busy = try c.query("SELECT EXISTS (SELECT 1 FROM certbus.jobs WHERE status IN ('QUEUED', 'RUNNING')) AS v")[0]
                .decode("v", as: Bool.self)
            if !busy { return }
            if let dead = workers.first(where: { $0.wait(timeout: 0) != nil }) {
                throw CommandFailure("a worker exited early:\n\(dead.log)")
            }
            if Date() > deadline { throw CommandFailure("the queue did not drain within \(Int(timeout)) s") }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Fills `jobs` NOOP jobs and drains them with `count` worker processes. The table is
    /// truncated first (a new, compact file) unless `keepingTable`, which deletes the rows
    /// instead, so a table that has been through a churn keeps its file, its free space and its
    /// indexes as they are.
    private func drain(url: String, c: Connection, workers count: Int, jobs: Int, keepingTable: Bool = false) throws -> DrainRun {
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
        let row = try c.query(
            """
            SELECT count(*) AS n, extract(epoch FROM max(completed_at) - min(started_at))::float8 AS seconds
              FROM certbus.jobs WHERE status = 'SUCCESS'
            """)[0]
        let n = try row.decode("n", as: Int.self)
        guard n == jobs else { throw CommandFailure("expected \(jobs) successful jobs, found \(n)") }
        return DrainRun(workers: count, jobs: jobs, seconds: try row.decode("seconds", as: Double.self), peakRSSBytes: rss)
    }

    private func measureDrains(url: String, c: Connection, into results: inout Results) throws {
        for count in workerCounts {
            log("drain: \(drainJobs) NOOP jobs with \(count) worker process(es), --concurrency \(concurrency)")
            let run = try drain(url: url, c: c, workers: count, jobs: drainJobs)
            log(String(format: "  %.0f jobs/s", run.jobsPerSecond))
            results.drains.append(run)
        }
    }

    // MARK: - Latency

    private func measureLatency(url: String, c: Connection, into results: inout Results) throws {
        try reset(c)
        log("latency: \(Int(latencyRate)) jobs/s for \(Int(latencySeconds)) s into one idle worker process")
        let workers = try spawnWorkers(url: url, count: 1, concurrency: 8)
        defer { workers.forEach { $0.stop() } }
        // Wait until it listens and has looked once.
        let deadline = Date().addingTimeInterval(30)
        while try c.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'certbus-worker'"
        )[0].decode("n", as: Int.self) < 2 {
            guard Date() < deadline else { throw CommandFailure("the worker did not start:\n\(workers[0].log)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.5)
        let enqueuer = try Connection.connect(url, applicationName: "certbus-bench")
        defer { enqueuer.close() }
        let total = Int(latencyRate * latencySeconds)
        var committed: [Int64: Double] = [:]
        let start = DispatchTime.now()
        for i in 0..<total {
            let due = start.uptimeNanoseconds + UInt64(Double(i) / latencyRate * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if due > now { usleep(useconds_t((due - now) / 1000)) }
            let id = try JobQueue.enqueue(on: enqueuer, NewJob(kind: .noop, payloadJSON: #"{"record": "run"}"#))
            committed[id] = Date().timeIntervalSince1970
        }
        try waitUntilDrained(c, workers: workers, timeout: 120)
        results.latencyWorkerRSS = workers[0].peakResidentBytes ?? 0
        let rows = try c.query("SELECT job_id, extract(epoch FROM at)::float8 AS at FROM certbus.noop_runs WHERE phase = 'run'")
        var latencies: [Double] = []
        for row in rows {
            guard let sent = committed[try row.decode("job_id", as: Int64.self)] else { continue }
            latencies.append(try row.decode("at", as: Double.self) - sent)
        }
        results.latencies = latencies.sorted()
        results.latencyJobs = total
    }

    // MARK: - pgbench

    func locatePgbench(_ c: Connection) throws -> String {
        if let pgbenchPath { return pgbenchPath }
        var candidates: [String] = []
        let major = try c.query("SELECT current_setting('server_version_num')::int / 10000 AS v")[0].decode("v", as: Int.self)
        candidates.append("/usr/lib/postgresql/\(major)/bin/pgbench")
        if let pgConfig = ["/usr/bin/pg_config", "/usr/local/bin/pg_config"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
            let bin = try? BenchProcess.output(pgConfig, ["--bindir"])
        {
            candidates.append(bin.trimmingCharacters(in: .whitespacesAndNewlines) + "/pgbench")
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/pgbench")
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw CommandFailure("pgbench not found (looked in \(candidates.prefix(3).joined(separator: ", ")), PATH); give --pgbench PATH")
        }
        return found
    }

    /// The bare SQL of one job's life in one transaction: claim one row with SKIP LOCKED, mark it done.
    static let pgbenchScript = """
        BEGIN;
        UPDATE certbus.jobs SET status = 'RUNNING', attempt = attempt + 1, started_at = now(), locked_by = 'pgbench', lease_expires_at = now() + interval '30 seconds' WHERE id = (SELECT id FROM certbus.jobs WHERE status = 'QUEUED' AND run_at <= now() ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id \\gset
        UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL WHERE id = :id;
        END;

        """

    private func pgbench(_ program: String, url: String, script: String, clients: Int, options: String? = nil) throws -> Double {
        let arguments = [
            "-n", "-M", "prepared", "-f", script, "-c", String(clients), "-j", String(min(clients, 2)), "-T", String(pgbenchSeconds), url,
        ]
        let process = try BenchProcess(program, arguments, environment: options.map { ["PGOPTIONS": $0] } ?? [:])
        guard let status = process.wait(timeout: Double(pgbenchSeconds) + 120), status == 0 else {
            throw CommandFailure("pgbench failed:\n\(process.log)")
        }
        let output = process.log
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let value = Double(line.dropFirst(6).prefix { $0 != " " })
        else { throw CommandFailure("could not read pgbench's tps:\n\(output)") }
        if output.contains("aborted") && !output.contains("number of failed transactions: 0") && output.contains("query did not return") {
            throw CommandFailure("pgbench ran out of queued jobs; lower --pgbench-seconds:\n\(output)")
        }
        return value
    }

    private func measurePgbench(url: String, c: Connection, into results: inout Results) throws {
        let program = try locatePgbench(c)
        let scriptPath = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-bench-\(getpid()).sql").path
        try Self.pgbenchScript.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: scriptPath) }
        for clients in pgbenchClients {
            try reset(c)
            try fill(c, jobs: max(20_000, 3_000 * pgbenchSeconds * 2))
            log("pgbench: \(program), \(clients) client(s), \(pgbenchSeconds) s, claim + done per transaction")
            let tps = try pgbench(program, url: url, script: scriptPath, clients: clients)
            log(String(format: "  %.0f jobs/s", tps))
            results.pgbench.append((clients, tps))
        }
        if let best = results.pgbench.max(by: { $0.tps < $1.tps }) {
            try reset(c)
            try fill(c, jobs: max(20_000, 10_000 * pgbenchSeconds))
            log("pgbench: \(best.clients) clients with synchronous_commit=off, for reference")
            let tps = try pgbench(program, url: url, script: scriptPath, clients: best.clients, options: "-c synchronous_commit=off")
            results.pgbenchAsync = (best.clients, tps)
        }
        try reset(c)
    }

    // MARK: - Churn

    /// Churn the way production does: worker processes drain a queue kept topped up by batched
    /// enqueues, while the retention task (with a retention of zero) deletes finished jobs and their
    /// attempt rows 1,000 at a time, and autovacuum works with the table's own settings.
    private func measureChurn(url: String, c: Connection, into results: inout Results) throws {
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
        let feederDone = BenchFlag()
        let retention = BenchCounter()
        let retentionError = BenchBox<String>()
        let retentionThread = Thread {
            do {
                let rc = try Connection.connect(url, applicationName: "certbus-bench-retention")
                defer { rc.close() }
                let policy = JobRetentionPolicy(successful: 0, unsuccessful: 0)
                while true {
                    let n = try JobRetention.deleteBatch(on: rc, policy: policy, limit: 1000)
                    retention.add(n)
                    if n == 0 {
                        if feederDone.isSet { break }
                        Thread.sleep(forTimeInterval: 0.01)
                    }
                }
            } catch {
                retentionError.value = String(describing: error)
            }
            feederDone.set()
        }
        let start = DispatchTime.now()
        retentionThread.start()
        var enqueued = 0
        let batch = (0..<churnBatch).map { _ in NewJob(kind: .noop) }
        var nextReport = churnJobs / 4
        while enqueued < churnJobs {
            if let dead = workers.first(where: { $0.wait(timeout: 0) != nil }) {
                throw CommandFailure("a worker exited during the churn:\n\(dead.log)")
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
        feederDone.set()
        while retention.value < churnJobs, retentionError.value == nil { Thread.sleep(forTimeInterval: 0.05) }
        if let error = retentionError.value { throw CommandFailure("the retention task failed: \(error)") }
        results.churnJobs = enqueued
        results.churnSeconds = Self.seconds(since: start)
        results.tableBytesAfterChurn = try c.query("SELECT pg_total_relation_size('certbus.jobs')::bigint AS v")[0].decode("v", as: Int.self)
        workers.forEach { $0.stop() }
        log("churn: drain rate of the same table after \(enqueued) processed and deleted jobs, 3 runs")
        for _ in 0..<3 {
            let run = try drain(url: url, c: c, workers: workerCount, jobs: drainJobs, keepingTable: true)
            log(String(format: "  %.0f jobs/s", run.jobsPerSecond))
            results.churnAfter.append(run)
        }
    }

    static func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }
}

/// A flag shared between threads.
final class BenchFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() {
        lock.lock()
        value = true
        lock.unlock()
    }
    var isSet: Bool {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}

/// A value shared between threads.
final class BenchBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value?
    var value: Value? {
        get {
            lock.lock()
            defer { lock.unlock() }
            return stored
        }
        set {
            lock.lock()
            stored = newValue
            lock.unlock()
        }
    }
}

/// A thread-safe counter.
final class BenchCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int = 1) {
        lock.lock()
        count += n
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}

extension BenchProcess {
    /// Runs `program` to completion and returns its output.
    static func output(_ program: String, _ arguments: [String]) throws -> String {
        let process = try BenchProcess(program, arguments)
        guard process.wait(timeout: 30) == 0 else { throw CommandFailure("\(program) failed: \(process.log)") }
        return process.log
    }
}
