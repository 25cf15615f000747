import CertbusArguments
import Foundation

/// `certbus bench queue`: enqueue rates and NOTIFY designs, drain rate with 1/2/4 worker
/// processes, enqueue-to-start latency, worker memory, the pgbench ceiling, and churn.
enum BenchQueueCommand {
    static let drainJobs = Option<Int>("jobs", default: 60_000, help: "NOOP jobs per drain run.")
    static let workers = Option<String>("workers", valueName: "n,...", default: "1,2,4", help: "Worker process counts to drain with.")
    static let concurrency = Option<Int>("concurrency", default: 64, help: "--concurrency of each worker process in the drain runs.")
    static let enqueueJobs = Option<Int>("enqueue-jobs", default: 4000, help: "Single-job enqueues per concurrent enqueue measurement.")
    static let clients = Option<Int>("clients", default: 8, help: "Concurrent connections of the single-job enqueue measurements.")
    static let batchJobs = Option<Int>("batch-jobs", default: 100_000, help: "Jobs per batched enqueue measurement.")
    static let rate = Option<Double>("latency-rate", valueName: "jobs/s", default: 200, help: "Steady enqueue rate of the latency run.")
    static let latencySeconds = Option<Double>("latency-seconds", valueName: "seconds", default: 10, help: "Length of the latency run.")
    static let pgbenchSeconds = Option<Int>("pgbench-seconds", default: 10, help: "Length of each pgbench run.")
    static let pgbenchClients = Option<String>("pgbench-clients", valueName: "n,...", default: "1,4,8,16", help: "pgbench client counts; the best is the ceiling.")
    static let pgbench = Option<String>("pgbench", valueName: "path", help: "The pgbench program (default: the server's bindir, then PATH).")
    static let churn = Option<Int>(
        "churn-jobs", default: 2_000_000, help: "Jobs run and deleted (by workers and the retention task) before the second drain measurement (the issue asks about 10000000; 0 skips).")

    static let command = Command(
        "queue", abstract: "Measure the job queue against the pgbench ceiling (use a release build).",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), migrates it and measures: \
            enqueue rates (single and batched) and the cost of each NOTIFY design; the drain rate of NOOP \
            jobs with 1, 2 and 4 `certbus worker` processes; enqueue-to-start latency at a steady rate into an \
            idle worker; worker memory; the database's own ceiling with pgbench running the bare SQL of one \
            job's life (claim one row with SKIP LOCKED and mark it done, one transaction per job); and the \
            drain rate again after --churn-jobs more jobs went through workers and the retention task. Then drops the database.
            """,
        options: CommandContext.options + [
            drainJobs, workers, concurrency, enqueueJobs, clients, batchJobs, rate, latencySeconds, pgbenchSeconds, pgbenchClients,
            pgbench, churn,
        ]
    ) { invocation in
        let context = CommandContext(invocation)
        func counts(_ text: String, _ option: String) throws -> [Int] {
            let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
                throw UsageError("--\(option) wants positive numbers separated by commas, e.g. 1,2,4")
            }
            return values.map { $0! }
        }
        var benchmark = QueueBenchmark(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            log: { line in FileHandle.standardError.write(Data("\(line)\n".utf8)) })
        benchmark.drainJobs = invocation[drainJobs]!
        benchmark.workerCounts = try counts(invocation[workers]!, "workers")
        benchmark.concurrency = invocation[concurrency]!
        benchmark.enqueueJobs = invocation[enqueueJobs]!
        benchmark.enqueueClients = invocation[clients]!
        benchmark.batchJobs = invocation[batchJobs]!
        benchmark.latencyRate = invocation[rate]!
        benchmark.latencySeconds = invocation[latencySeconds]!
        benchmark.pgbenchSeconds = invocation[pgbenchSeconds]!
        benchmark.pgbenchClients = try counts(invocation[pgbenchClients]!, "pgbench-clients")
        benchmark.pgbenchPath = invocation[pgbench]
        benchmark.churnJobs = invocation[churn]!
        guard benchmark.drainJobs > 0, benchmark.concurrency > 0, benchmark.enqueueJobs >= benchmark.enqueueClients,
            benchmark.enqueueClients > 0, benchmark.batchJobs > 0, benchmark.latencyRate > 0, benchmark.latencySeconds > 0,
            benchmark.pgbenchSeconds > 0, benchmark.churnJobs >= 0
        else { throw UsageError("counts, rates and durations must be positive") }
        let url = try context.configuration(applicationName: "certbus-bench").connectionString
        let results = try benchmark.run(baseConnectionString: url)
        invocation.print(report(results, benchmark), terminator: "")
    }

    static func report(_ r: QueueBenchmark.Results, _ b: QueueBenchmark) -> String {
        func f(_ v: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", v) }
        func mb(_ bytes: Int) -> String { f(Double(bytes) / 1_048_576, 1) + " MB" }
        func percentile(_ p: Double) -> Double {
            guard !r.latencies.isEmpty else { return .nan }
            return r.latencies[min(r.latencies.count - 1, Int((Double(r.latencies.count) * p).rounded(.up)) - 1)]
        }
        var lines: [String] = []
        lines.append("certbus bench queue — \(r.server)")
        lines.append("settings: " + r.settings.keys.sorted().map { "\($0)=\(r.settings[$0]!)" }.joined(separator: " ")
            + "; machine: \(ProcessInfo.processInfo.activeProcessorCount) cores")
        lines.append("")
        lines.append("Enqueue (jobs/s):")
        for (label, rate) in r.enqueue { lines.append("  \(label): \(f(rate))") }
        lines.append("")
        lines.append("NOTIFY designs (jobs/s; single = \(b.enqueueClients) connections, one job per transaction; batched = \(b.batchSize) per statement):")
        for row in r.notify {
            lines.append("  \(row.design): single \(row.singleClients.map { f($0) } ?? "-"), batched \(row.batched.map { f($0) } ?? "-")")
        }
        lines.append("")
        let ceiling = r.pgbench.map(\.tps).max() ?? .nan
        lines.append("pgbench ceiling (claim one row with SKIP LOCKED + mark it done, one transaction per job):")
        for run in r.pgbench { lines.append("  \(run.clients) client(s): \(f(run.tps)) jobs/s") }
        if let a = r.pgbenchAsync { lines.append("  (\(a.clients) clients with synchronous_commit=off: \(f(a.tps)) jobs/s — for reference)") }
        lines.append("")
        lines.append("Drain of NOOP jobs (--concurrency \(b.concurrency) per process):")
        for run in r.drains {
            lines.append("  \(run.workers) worker process(es): \(run.jobs) jobs in \(f(run.seconds, 2)) s = \(f(run.jobsPerSecond)) jobs/s = \(f(run.jobsPerSecond / ceiling, 2))× the pgbench ceiling; peak worker RSS \(mb(run.peakRSSBytes))")
        }
        lines.append("")
        lines.append("Enqueue-to-start latency at \(f(b.latencyRate)) jobs/s, idle worker (\(r.latencies.count) of \(r.latencyJobs) jobs measured):")
        lines.append("  p50 \(f(percentile(0.5) * 1000, 2)) ms, p99 \(f(percentile(0.99) * 1000, 2)) ms, max \(f((r.latencies.last ?? .nan) * 1000, 2)) ms; worker peak RSS \(mb(r.latencyWorkerRSS))")
        if !r.churnBefore.isEmpty, !r.churnAfter.isEmpty {
            func median(_ runs: [QueueBenchmark.DrainRun]) -> Double { runs.map(\.jobsPerSecond).sorted()[runs.count / 2] }
            func list(_ runs: [QueueBenchmark.DrainRun]) -> String { runs.map { f($0.jobsPerSecond) }.joined(separator: ", ") }
            let workers = r.churnBefore[0].workers
            let before = median(r.churnBefore), after = median(r.churnAfter)
            lines.append("")
            lines.append("Churn: \(r.churnJobs) jobs enqueued in batches, run by \(workers) workers and deleted by the retention task in \(f(r.churnSeconds, 1)) s (\(f(Double(r.churnJobs) / r.churnSeconds)) jobs/s sustained); jobs table then \(mb(r.tableBytesAfterChurn)):")
            lines.append("  drain with \(workers) workers, fresh table: \(f(before)) jobs/s (median of \(list(r.churnBefore)))")
            lines.append("  the same table after the churn: \(f(after)) jobs/s (median of \(list(r.churnAfter))) = \(f(after / before * 100, 0))% of fresh")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
