import CertbusArguments
import CertbusBus
import CertbusCore
import CertbusMetrics
import CertbusServices
import Foundation
import Postgres

/// `certbus worker`: run jobs until SIGTERM or SIGINT.
enum WorkerCommand {
    static let concurrency = Option<Int>("concurrency", short: "c", default: 10, help: "Jobs run at the same time (one thread each).")
    static let batchSize = Option<Int>(
        "batch-size", default: 100,
        help: "Most ISSUE_CERT jobs one thread issues together, in one transaction (1: each alone). A worker that dies holds up to about --concurrency × this many jobs until their lease runs out.")
    static let kinds = Option<String>(
        "kinds", valueName: "kind,...", repeatable: true, help: "Run only these kinds (comma-separated or repeated; default: every kind this worker has a handler for).")
    static let queues = Option<String>(
        "queues", valueName: "queue,...", repeatable: true, help: "Serve these queues (comma-separated or repeated; default: default).")
    static let lease = Option<Double>("lease", valueName: "seconds", default: 30, help: "Lease of a running job; heartbeats extend it every third of it.")
    static let poll = Option<Double>("poll-interval", valueName: "seconds", default: 2, help: "How often an idle worker looks for jobs without being notified.")
    static let grace = Option<Double>(
        "grace", valueName: "seconds", default: 30, help: "On SIGTERM/SIGINT, how long running jobs may finish before they are handed back.")
    static let rescueInterval = Option<Double>(
        "rescue-interval", valueName: "seconds", default: 5, help: "How often the rescuer looks for expired leases (and a follower tries to take over maintenance).")
    static let noMaintenance = Flag("no-maintenance", help: "Do not take part in running the rescuer and retention tasks.")
    static let quiet = Flag("quiet", short: "q", help: "Log only warnings and errors.")
    static let verbose = Flag("verbose", short: "v", help: "Also log every maintenance run.")

    static let command = Command(
        "worker", abstract: "Run jobs (start as many worker processes, on as many machines, as you like).",
        discussion: """
            Claims due jobs of its queues and kinds in batches (FOR UPDATE SKIP LOCKED), runs them on \
            --concurrency threads, and records each attempt. Wakes up on NOTIFY certbus_jobs, and polls \
            every --poll-interval seconds in case a notification was missed. One worker process of the \
            deployment also runs the rescuer (jobs whose worker died go back to the queue once their lease \
            expires) and the retention cleanup. The first SIGTERM or SIGINT stops claiming, lets running \
            jobs finish for --grace seconds and hands the rest back to the queue; a second one exits at once.
            """,
        options: CommandContext.options + [concurrency, batchSize, kinds, queues, lease, poll, grace, rescueInterval, noMaintenance, quiet, verbose, MetricsCommand.listen]
    ) { invocation in
        let context = CommandContext(invocation)
        let metricsAddress = try MetricsCommand.address(invocation)
        var options = WorkerOptions()
        options.concurrency = invocation[concurrency]!
        options.leaseSeconds = invocation[lease]!
        options.pollInterval = invocation[poll]!
        options.runsMaintenance = !invocation[noMaintenance]
        options.rescueInterval = invocation[rescueInterval]!
        options.maintenanceLeadershipInterval = min(5, invocation[rescueInterval]!)
        let kindWords = commaSeparated(invocation.values(kinds))
        if !kindWords.isEmpty { options.kinds = try kindWords.map { try JobsCommands.parseKind($0) } }
        let queueWords = commaSeparated(invocation.values(queues))
        if !queueWords.isEmpty { options.queues = queueWords }
        guard options.concurrency >= 1 && options.concurrency <= 1000 else { throw UsageError("--concurrency must be between 1 and 1000") }
        guard let issueBatchSize = invocation[batchSize], (1...1000).contains(issueBatchSize) else {
            throw UsageError("--batch-size must be between 1 and 1000")
        }
        guard options.leaseSeconds > 0, options.pollInterval > 0, options.rescueInterval > 0, invocation[grace]! >= 0 else {
            throw UsageError("--lease, --poll-interval and --rescue-interval must be positive, --grace not negative")
        }
        let level: ServiceLog.Level = invocation[quiet] ? .warning : (invocation[verbose] ? .debug : .info)
        let log = ServiceLog.standardError(minimumLevel: level)
        let worker: Worker
        do {
            worker = try Worker(
                configuration: try context.configuration(applicationName: "certbus-worker"), handlers: handlers(issueBatchSize: issueBatchSize),
                options: options, log: log)
        } catch let error as JobQueueError {
            throw UsageError(error.message)
        }
        // The endpoint first: a port already taken stops the worker before it claims anything.
        let endpoint = metricsAddress.map { MetricsCommand.endpoint($0, services: [worker], database: nil, log: log) }
        try endpoint?.start()
        try worker.start()
        let (signal, handler) = await SignalHandler.waitForShutdown()
        log(.info, "worker", "\(SignalHandler.name(signal)) received: stopping (grace \(invocation[grace]!)s; a second signal exits at once)")
        worker.stop(grace: invocation[grace]!)
        endpoint?.stop(grace: 1)
        handler.cancel()
        let s = worker.statistics
        log(.info, "worker", "done: \(s.succeeded) succeeded, \(s.failed) failed attempts, \(s.handedBack) handed back")
    }

    /// Every handler this build of certbus has. Areas add theirs here (one line each).
    static func handlers(environment: [String: String] = ProcessInfo.processInfo.environment, issueBatchSize: Int = 100) -> HandlerRegistry {
        let registry = CertificateServices.registry(
            homeDirectory: CertCommandSupport.homeDirectory(environment), environment: environment)
        // Webhook secrets are sealed under the KEK; without a readable KEK, deliveries that need one fail clearly.
        let kek = try? registry.environment.keyEncryptionKey()
        return HandlerRegistry([
            NoopHandler(),
            ValidateDeploymentHandler(),
            DiscoveryHandler(),
            DeliverNotificationHandler(keyEncryptionKey: kek),
        ] + CertificateServices.handlers(registry: registry, issueBatchSize: issueBatchSize))
    }

    static func commaSeparated(_ values: [String]) -> [String] {
        values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}
