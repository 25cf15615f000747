import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench events`: dispatch throughput and the expiry scan over many certificates, in a scratch database.
enum EventsBenchCommand {
    static let events = Option<Int>("events", default: 20_000, help: "Events to dispatch per configuration.")
    static let certificates = Option<Int>("certificates", default: 1_000_000, help: "Certificates for the expiry scan.")
    static let batchSize = Option<Int>("batch-size", default: 500, help: "Events claimed per dispatcher transaction.")

    static let command = Command(
        "events", abstract: "Measure event dispatch throughput and the expiry scan (use a release build).",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), migrates it, dispatches --events events \
            without triggers, with an alert-raising trigger (one and two dispatchers) and with a PG_CHANNEL \
            notification, then inserts --certificates certificates and times the expiry scan (first run and steady \
            state) and the expiry alert pass, printing the scan's query plan; then drops the database.
            """,
        options: CommandContext.options + [events, certificates, batchSize]
    ) { invocation in
        let benchmark = EventsBenchmark(
            events: invocation[events] ?? 20_000, certificates: invocation[certificates] ?? 1_000_000,
            batchSize: invocation[batchSize] ?? 500)
        guard benchmark.events > 0, benchmark.certificates > 0, benchmark.batchSize > 0 else {
            throw UsageError("--events, --certificates and --batch-size must be positive")
        }
        let bench = try BenchInvocation(invocation)
        let context = bench.context
        let result = try benchmark.run(connectionString: bench.url, progress: bench.progress)
        if context.json {
            invocation.output.write(try JSONOutput.string(result))
            return
        }
        func f(_ v: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", v) }
        invocation.print("""
            dispatch, no trigger applies:            \(f(result.untriggeredEventsPerSecond)) events/s
            dispatch, one alert-raising trigger:     \(f(result.triggeredEventsPerSecond)) events/s (1 dispatcher), \
            \(f(result.triggeredEventsPerSecondTwoDispatchers)) events/s (2 dispatchers)
            dispatch, one PG_CHANNEL notification:   \(f(result.channelEventsPerSecond)) events/s
            expiry scan over \(result.certificates) certificates (\(result.expiringCandidates) expiring without replacement):
              first run  \(f(result.firstScanSeconds, 2)) s (\(result.firstScan))
              steady     \(f(result.steadyScanSeconds, 3)) s (best of 3)
            expiry alerts: first run \(f(result.firstAlertSeconds, 2)) s, steady \(f(result.steadyAlertSeconds, 3)) s (best of 3)
            candidate query plan:
            """)
        invocation.print(result.plan.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
        if let load = result.loadAverage { invocation.print("load average at the end: \(f(load, 2)) (\(ProcessInfo.processInfo.activeProcessorCount) CPUs)") }
    }
}
