import CertbusArguments
import CertbusBus
import Foundation

/// `certbus serve`: every service in one process (the default for one machine).
enum ServeCommand {
    static let only = Option<String>(
        "only", valueName: "part,...", repeatable: true,
        help: "Run only these parts: worker, scheduler, sealer, dispatcher (default: all).")
    static let without = Option<String>(
        "without", valueName: "part,...", repeatable: true, help: "Run every part except these.")
    static let concurrency = Option<Int>("concurrency", short: "c", default: 10, help: "Jobs the worker runs at the same time.")
    static let grace = Option<Double>(
        "grace", valueName: "seconds", default: 30, help: "On SIGTERM/SIGINT, how long running jobs may finish before they are handed back.")
    static let quiet = Flag("quiet", short: "q", help: "Log only warnings and errors.")

    static let command = Command(
        "serve", abstract: "Run every certbus service in one process until SIGTERM or SIGINT.",
        discussion: """
            Runs the job worker (all job kinds), the scheduler (leader-elected periodic tasks: job rescue and \
            retention, certificate expiry scan and alerts, renewal scheduling, failed-job alerts, agent-offline \
            detection, automation status revert), the audit sealer (hash chain and signed checkpoints) and \
            the event dispatcher (triggers, notifications). Several serve processes may run against one \
            database: leader-elected parts run in one of them at a time, workers share the queue. With no \
            --database-url it uses (and starts) the embedded cluster, and stops it on exit if it started it.
            """,
        options: CommandContext.options + [only, without, concurrency, grace, quiet, MetricsCommand.listen]
    ) { invocation in
        let context = CommandContext(invocation)
        let parts = try selectedParts(only: WorkerCommand.commaSeparated(invocation.values(only)),
                                      without: WorkerCommand.commaSeparated(invocation.values(without)))
        let metricsAddress = try MetricsCommand.address(invocation)
        var options = WorkerOptions()
        options.concurrency = invocation[concurrency]!
        guard options.concurrency >= 1 && options.concurrency <= 1000 else { throw UsageError("--concurrency must be between 1 and 1000") }
        let log = ServiceLog.standardError(minimumLevel: invocation[quiet] ? .warning : .info)
        let databaseName = try context.target().displayName
        log(.info, "serve", "database: \(databaseName)")
        var services = try ServiceComposition.services(parts, context: context, workerOptions: options, log: log)
        if let metricsAddress {
            services.insert(try ServiceComposition.metricsEndpoint(
                metricsAddress, services: services, withDatabase: parts.contains(.scheduler), context: context, log: log), at: 0)
        }
        try await ServiceComposition.run(services, grace: invocation[grace]!, log: log)
    }

    static func selectedParts(only: [String], without: [String]) throws -> Set<ServiceComposition.Part> {
        func parse(_ words: [String]) throws -> Set<ServiceComposition.Part> {
            Set(try words.map { word in
                guard let part = ServiceComposition.Part(rawValue: word.lowercased()) else {
                    throw UsageError("unknown part '\(word)'; the parts are: \(ServiceComposition.Part.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return part
            })
        }
        if !only.isEmpty && !without.isEmpty { throw UsageError("use either --only or --without, not both") }
        var parts = only.isEmpty ? Set(ServiceComposition.Part.allCases) : try parse(only)
        parts.subtract(try parse(without))
        if parts.isEmpty { throw UsageError("nothing left to run") }
        return parts
    }
}

/// `certbus scheduler`: only the leader-elected periodic tasks (run several for failover).
enum SchedulerCommand {
    static let command = Command(
        "scheduler", abstract: "Run the leader-elected periodic tasks, the audit sealer and the event dispatcher.",
        discussion: "The parts of 'certbus serve' other than the worker; run two or more for failover. Equivalent to 'certbus serve --without worker'.",
        options: CommandContext.options + [ServeCommand.grace, ServeCommand.quiet, MetricsCommand.listen]
    ) { invocation in
        let context = CommandContext(invocation)
        let metricsAddress = try MetricsCommand.address(invocation)
        let log = ServiceLog.standardError(minimumLevel: invocation[ServeCommand.quiet] ? .warning : .info)
        var services = try ServiceComposition.services(
            [.scheduler, .sealer, .dispatcher], context: context, workerOptions: WorkerOptions(), log: log)
        if let metricsAddress {
            services.insert(try ServiceComposition.metricsEndpoint(
                metricsAddress, services: services, withDatabase: true, context: context, log: log), at: 0)
        }
        try await ServiceComposition.run(services, grace: invocation[ServeCommand.grace]!, log: log)
    }
}
