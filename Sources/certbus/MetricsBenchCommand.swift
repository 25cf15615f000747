import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench metrics`: the database part of a metrics scrape over a large deployment, in a scratch database.
enum MetricsBenchCommand {
    static let certificates = Option<Int>("certificates", default: 1_000_000, help: "Certificates (at least 100).")
    static let finishedJobs = Option<Int>("finished-jobs", default: 1_000_000, help: "Finished jobs kept as history.")
    static let queuedJobs = Option<Int>("queued-jobs", default: 1_000, help: "Jobs QUEUED in steady state.")
    static let backlogJobs = Option<Int>("backlog-jobs", default: 100_000, help: "Jobs added QUEUED for the backlog phase.")
    static let auditRows = Option<Int>("audit-rows", default: 10_000, help: "Unsealed audit rows.")
    static let scrapes = Option<Int>("scrapes", default: 20, help: "Timed scrapes per phase.")

    static let command = Command(
        "metrics", abstract: "Measure the database query of a metrics scrape over a large deployment (use a release build).",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), migrates it, fills it with --certificates \
            certificates, --finished-jobs finished and --queued-jobs queued jobs, --audit-rows unsealed audit rows, \
            1,000 alerts and 200 agents, then times --scrapes reads of certbus.metrics_snapshot() and prints its \
            plan; times them again with a backlog of --backlog-jobs due jobs; and measures certificate inserts with \
            and without the tally triggers (bulk and single-row). Then drops the database.
            """,
        options: CommandContext.options + [certificates, finishedJobs, queuedJobs, backlogJobs, auditRows, scrapes]
    ) { invocation in
        let benchmark = MetricsBenchmark(
            certificates: invocation[certificates]!, finishedJobs: invocation[finishedJobs]!, queuedJobs: invocation[queuedJobs]!,
            backlogJobs: invocation[backlogJobs]!, auditRows: invocation[auditRows]!, scrapes: invocation[scrapes]!)
        guard benchmark.certificates >= 100, benchmark.finishedJobs >= 0, benchmark.queuedJobs >= 0, benchmark.backlogJobs >= 0,
            benchmark.auditRows >= 0, benchmark.scrapes > 0
        else {
            throw UsageError("--certificates must be at least 100, --scrapes positive, the other sizes not negative")
        }
        let bench = try BenchInvocation(invocation)
        let result = try benchmark.run(connectionString: bench.url, progress: bench.progress)
        if bench.context.json {
            invocation.output.write(try JSONOutput.string(result))
            return
        }
        func f(_ v: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", v) }
        func t(_ timings: MetricsBenchmark.Timings) -> String {
            "min \(f(timings.minimum)) ms, median \(f(timings.median)) ms, max \(f(timings.maximum)) ms"
        }
        invocation.print("""
            metrics scrape, database part (\(result.series) series; \(result.certificates) certificates, \
            \(result.finishedJobs) finished jobs, \(result.auditRows) unsealed audit rows, \(result.tallyRows) tally rows):
              \(result.queuedJobs) jobs queued:   \(t(result.scrapeMilliseconds))
              \(result.queuedJobs + result.backlogJobs) jobs queued: \(t(result.backlogScrapeMilliseconds))
            what the tallies replace, count(*) by status over the certificates: \(f(result.countByStatusMilliseconds)) ms
            certificate inserts, with / without the tally triggers (median of 4 alternating rounds):
              50,000 in one statement: \(f(result.bulkInsertSecondsWithTallies, 2)) s / \(f(result.bulkInsertSecondsWithoutTallies, 2)) s
              one per transaction:      \(f(result.singleInsertMillisecondsWithTallies, 3)) ms / \(f(result.singleInsertMillisecondsWithoutTallies, 3)) ms each
            snapshot query plan (steady state):
            """)
        invocation.print(result.plan.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        if let load = result.loadAverage { invocation.print("load average at the end: \(f(load, 2)) (\(ProcessInfo.processInfo.activeProcessorCount) CPUs)") }
    }
}
