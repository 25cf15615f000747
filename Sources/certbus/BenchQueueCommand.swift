import CertbusArguments
import CertbusBench
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
    static let pgbenchBatch = Option<Int>("pgbench-batch", default: 100, help: "Jobs per claim and per completion in the batched pgbench ceiling.")
    static let pgbench = Option<String>("pgbench", valueName: "path", help: "The pgbench program (default: the server's bindir, then PATH).")
    static let churn = Option<Int>(
        "churn-jobs", default: 2_000_000, help: "Jobs run and deleted (by workers and the retention task) before the second drain measurement (the issue asks about 10000000; 0 skips).")

    static let command = Command(
        "queue", abstract: "Measure the job queue against the pgbench ceiling (use a release build).",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), migrates it and measures: \
            enqueue rates (single and batched) and the cost of each NOTIFY design; the drain rate of NOOP \
            jobs with 1, 2 and 4 `certbus worker` processes; enqueue-to-start latency at a steady rate into an \
            idle worker; worker memory; the database's own ceilings with pgbench running the bare SQL of a \
            job's life, one job per transaction (claim one row with SKIP LOCKED and mark it done) and batched \
            (claim --pgbench-batch rows in one transaction, mark them done in a second; scripts in \
            Sources/CertbusBench/Queue/pgbench); and the \
            drain rate again after --churn-jobs more jobs went through workers and the retention task. Then drops the database.
            """,
        options: CommandContext.options + [
            drainJobs, workers, concurrency, enqueueJobs, clients, batchJobs, rate, latencySeconds, pgbenchSeconds, pgbenchClients,
            pgbenchBatch, pgbench, churn,
        ]
    ) { invocation in
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
        benchmark.pgbenchBatch = invocation[pgbenchBatch]!
        benchmark.churnJobs = invocation[churn]!
        guard benchmark.drainJobs > 0, benchmark.concurrency > 0, benchmark.enqueueJobs >= benchmark.enqueueClients,
            benchmark.enqueueClients > 0, benchmark.batchJobs > 0, benchmark.latencyRate > 0, benchmark.latencySeconds > 0,
            benchmark.pgbenchSeconds > 0, benchmark.pgbenchBatch > 0, benchmark.churnJobs >= 0
        else { throw UsageError("counts, rates and durations must be positive") }
        let results = try benchmark.run(baseConnectionString: try BenchInvocation(invocation).url)
        invocation.output.write(results.report(for: benchmark))
    }
}
