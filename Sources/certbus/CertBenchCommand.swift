import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench issue`: ISSUE_CERT end to end in certificates per second.
enum CertBenchCommand {
    static let certificates = Option<Int>("certificates", default: 5000, help: "Certificates issued per round.")
    static let workers = Option<String>("workers", valueName: "list", default: "1,4", help: "Worker counts, one round each.")
    static let concurrency = Option<Int>("concurrency", default: 8, help: "Jobs each worker runs at once.")
    static let batch = Flag("batch", help: "Use the ISSUE_CERT batch worker (claims and commits jobs in batches) instead of the general worker.")
    static let batchSize = Option<Int>("batch-size", default: 200, help: "With --batch: jobs per batch.")

    static let command = Command(
        "issue", abstract: "Measure ISSUE_CERT end to end (enqueue → certificate committed with audit and event rows); use a release build.",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), migrates it, creates a built-in \
            CA (ECDSA P-256 root + intermediate) and a profile, then per round enqueues --certificates ISSUE_CERT \
            jobs with fresh ECDSA P-256 CSRs and runs them with the given number of in-process workers, timing \
            from the first enqueue to the last committed certificate. Drops the database after.
            """,
        options: CommandContext.options + [certificates, workers, concurrency, batch, batchSize]
    ) { invocation in
        let counts = invocation[workers]!.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard counts.allSatisfy({ ($0 ?? 0) > 0 }), !counts.isEmpty else { throw UsageError("--workers wants positive counts, e.g. 1,4") }
        let benchmark = IssueBenchmark(certificates: invocation[certificates]!, workerCounts: counts.compactMap { $0 },
                                       concurrency: invocation[concurrency]!, batched: invocation[batch], batchSize: invocation[batchSize]!)
        guard benchmark.certificates > 0, benchmark.concurrency > 0 else { throw UsageError("--certificates and --concurrency must be positive") }
        let bench = try BenchInvocation(invocation)
        let context = bench.context
        let rounds = try benchmark.run(connectionString: bench.url, progress: bench.progress)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(rounds.map {
                .object(["workers": .int($0.workers), "batched": .bool(benchmark.batched), "concurrency": .int(benchmark.concurrency), "certificates": .int($0.certificates),
                         "seconds": .double($0.seconds), "per_second": .double($0.perSecond), "audit_rows": .int($0.auditRows),
                         "events": .int($0.events), "load_average": $0.loadAverage.map { .double($0) } ?? .null])
            })))
            return
        }
        for r in rounds {
            invocation.print(String(format: "%d %@ × %d: %d certificates in %.2f s = %.0f certificates/s (%d audit rows, %d events; load %.2f)",
                                    r.workers, benchmark.batched ? "batch worker(s)" : "worker(s)", benchmark.batched ? benchmark.batchSize : benchmark.concurrency, r.certificates, r.seconds, r.perSecond, r.auditRows, r.events, r.loadAverage ?? 0))
        }
    }
}
