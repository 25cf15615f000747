import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench growth`: the drain after a long churn, the audit sealer and verifier, the expiry
/// scan and the weekly report, over big tables, with their plans.
enum GrowthBenchCommand {
    static let churn = Option<Int>("churn-jobs", default: 10_000_000, help: "Jobs run and deleted before the drain is measured again (0 skips).")
    static let drainJobs = Option<Int>("drain-jobs", default: 60_000, help: "NOOP jobs per drain before and after the churn.")
    static let workers = Option<Int>("workers", default: 2, help: "Worker processes of the churn and its drains.")
    static let concurrency = Option<Int>("concurrency", default: 64, help: "--concurrency of each worker process.")
    static let auditRows = Option<Int>("audit-rows", default: 10_000_000, help: "Audit rows inserted, sealed and verified (0 skips).")
    static let certificates = Option<Int>("certificates", default: 1_000_000, help: "Certificates under the expiry scan (0 skips).")
    static let jobs = Option<Int>("jobs", default: 1_000_000, help: "Finished jobs under the weekly report (0 skips).")

    static let command = Command(
        "growth", abstract: "Measure certbus with big tables: drain after churn, audit sealing and verification, expiry scan, weekly report (release build).",
        discussion: """
            Runs in scratch databases on the same server (needs CREATEDB; LOAD auto_explain for the plans, as the \
            embedded cluster's owner may) and drops them after: the drain rate of --workers worker processes on a fresh \
            jobs table and on the same table after --churn-jobs jobs went through workers and the retention task (with \
            the share of heap-only updates and the plans of a claim and a completion there); then, in one database, \
            --audit-rows audit rows inserted, sealed and verified; the expiry scan over --certificates certificates; and \
            the weekly and daily reports over --jobs finished jobs beside those audit rows. Every figure comes with its \
            EXPLAIN (ANALYZE) plans. The full sizes take about half an hour on 2 CPUs.
            """,
        options: CommandContext.options + [churn, drainJobs, workers, concurrency, auditRows, certificates, jobs]
    ) { invocation in
        var benchmark = GrowthBenchmark(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            log: { line in FileHandle.standardError.write(Data("\(line)\n".utf8)) })
        benchmark.churnJobs = invocation[churn]!
        benchmark.drainJobs = invocation[drainJobs]!
        benchmark.workers = invocation[workers]!
        benchmark.concurrency = invocation[concurrency]!
        benchmark.auditRows = invocation[auditRows]!
        benchmark.certificates = invocation[certificates]!
        benchmark.jobs = invocation[jobs]!
        guard benchmark.churnJobs >= 0, benchmark.drainJobs > 0, benchmark.workers > 0, benchmark.concurrency > 0,
              benchmark.auditRows >= 0, benchmark.certificates >= 0, benchmark.jobs >= 0
        else { throw UsageError("sizes must not be negative; --drain-jobs, --workers and --concurrency must be positive") }
        let results = try benchmark.run(baseConnectionString: try BenchInvocation(invocation).url)
        invocation.output.write(results.report(for: benchmark))
    }
}
