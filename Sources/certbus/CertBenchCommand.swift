import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench issue`: ISSUE_CERT end to end in certificates per second.
enum CertBenchCommand {
    static let certificates = Option<Int>("certificates", default: 5000, help: "Certificates issued per round.")
    static let workers = Option<String>("workers", valueName: "list", default: "1,4", help: "Worker counts, one round each.")
    static let concurrency = Option<Int>("concurrency", default: 2, help: "Executor threads of each worker: jobs, or batches of jobs, run at once.")
    static let batchSize = Option<Int>(
        "batch-size", default: 100, help: "Most ISSUE_CERT jobs a worker issues together (1: each job alone through the handler's one-by-one path).")

    static let command = Command(
        "issue", abstract: "Measure ISSUE_CERT end to end (enqueue → certificate committed with audit and event rows); use a release build.",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), migrates it, creates a built-in \
            CA (ECDSA P-256 root + intermediate) and a profile, then per round enqueues --certificates ISSUE_CERT \
            jobs with fresh ECDSA P-256 CSRs and runs them with the given number of in-process workers (the general \
            `Worker` of `certbus worker`, which issues ISSUE_CERT in batches of up to --batch-size), timing from \
            the first enqueue to the last committed certificate (database clock). Drops the database after.
            """,
        options: CommandContext.options + [certificates, workers, concurrency, batchSize]
    ) { invocation in
        let counts = invocation[workers]!.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard counts.allSatisfy({ ($0 ?? 0) > 0 }), !counts.isEmpty else { throw UsageError("--workers wants positive counts, e.g. 1,4") }
        let benchmark = IssueBenchmark(certificates: invocation[certificates]!, workerCounts: counts.compactMap { $0 },
                                       concurrency: invocation[concurrency]!, batchSize: invocation[batchSize]!)
        guard benchmark.certificates > 0, benchmark.concurrency > 0, benchmark.batchSize > 0 else {
            throw UsageError("--certificates, --concurrency and --batch-size must be positive")
        }
        let bench = try BenchInvocation(invocation)
        let context = bench.context
        let rounds = try benchmark.run(connectionString: bench.url, progress: bench.progress)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(rounds.map {
                .object(["workers": .int($0.workers), "batch_size": .int(benchmark.batchSize), "concurrency": .int(benchmark.concurrency), "certificates": .int($0.certificates),
                         "seconds": .double($0.seconds), "per_second": .double($0.perSecond), "audit_rows": .int($0.auditRows),
                         "events": .int($0.events), "load_average": $0.loadAverage.map { .double($0) } ?? .null,
                         "cpu_us_per_certificate": $0.cpuMicrosecondsPerCertificate.map { .double($0) } ?? .null])
            })))
            return
        }
        for r in rounds {
            invocation.print(String(format: "%d worker(s) × %d threads, batches of up to %d: %d certificates in %.2f s = %.0f certificates/s (%d audit rows, %d events; CPU %.0f µs/certificate, certbus + PostgreSQL; load %.2f)",
                                    r.workers, benchmark.concurrency, benchmark.batchSize, r.certificates, r.seconds, r.perSecond, r.auditRows, r.events,
                                    r.cpuMicrosecondsPerCertificate ?? .nan, r.loadAverage ?? 0))
        }
    }
}
