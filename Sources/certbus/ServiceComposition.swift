import CertbusBus
import CertbusDatabase
import CertbusMetrics
import CertbusServices
import Foundation
import Postgres

/// Which services a process runs, and how they are built. `certbus serve` runs
/// them all; `certbus worker`, `certbus scheduler`, ... run one each, so a
/// deployment can scale the part that needs it. Adding a service, a periodic
/// task or a job handler is one line here.
enum ServiceComposition {
    /// The services `certbus serve` can run, by name.
    enum Part: String, CaseIterable {
        case worker, scheduler, sealer, dispatcher
    }

    /// Every periodic task the scheduler runs (as leader only). Event retention follows
    /// CERTBUS_EVENT_RETENTION_DAYS (default 90, 0 keeps events forever).
    static func periodicTasks(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [any PeriodicTask] {
        let retention: EventRetentionPolicy
        do {
            retention = try EventRetentionPolicy.from(environment: environment)
        } catch {
            throw CommandFailure(String(describing: error))
        }
        return EventTasks.all(retention: retention) + [
            ReportedTask(AutomationStatusRevertTask(interval: 300)),
            ReportedTask(AgentOfflineTask(interval: 30, threshold: 300)),
            TallyCompactionTask(),
        ] + CertificateServices.periodicTasks().map { ReportedTask($0) }
            + [IncidentAdvanceTask()]  // every 5 s: not a ReportedTask (no SCHEDULED_JOB_FINISHED every 5 s); it audits each step
    }

    /// Builds the services named in `parts`.
    static func services(
        _ parts: Set<Part>, context: CommandContext, workerOptions: WorkerOptions, log: ServiceLog
    ) throws -> [any CertbusService] {
        let target = try context.target()
        try requireMigrated(context)
        var services: [any CertbusService] = []
        for part in Part.allCases where parts.contains(part) {
            switch part {
            case .worker:
                services.append(
                    try Worker(
                        configuration: try context.configuration(applicationName: "certbus-worker"),
                        handlers: WorkerCommand.handlers(), options: workerOptions, log: log))
            case .scheduler:
                services.append(
                    Scheduler(
                        configuration: try context.configuration(applicationName: "certbus-scheduler"),
                        tasks: try periodicTasks(), log: log))
            case .sealer:
                services.append(
                    AuditSealerService(
                        configuration: try context.configuration(applicationName: "certbus-audit-sealer"),
                        signingKey: try AuditSigningKey.load(homeDirectory: target.homeDirectory)))
            case .dispatcher:
                services.append(
                    EventDispatcherService(
                        configuration: try context.configuration(applicationName: "certbus-event-dispatcher"), log: log))
            }
        }
        return services
    }

    /// The `--metrics-listen` endpoint of a service process: its `process_*` series, the series of
    /// the worker among `services`, and `withDatabase` the database series (processes that run the
    /// scheduler part serve those, so that a deployment exports them once per scheduler).
    static func metricsEndpoint(
        _ address: MetricsListenAddress, services: [any CertbusService], withDatabase: Bool, context: CommandContext,
        log: ServiceLog
    ) throws -> MetricsEndpoint {
        let database = withDatabase
            ? DatabaseMetricsSource(configuration: try context.configuration(applicationName: "certbus-metrics"), log: log) : nil
        return MetricsCommand.endpoint(address, services: services, database: database, log: log)
    }

    /// Refuses to start services on a database with pending or edited migrations.
    static func requireMigrated(_ context: CommandContext) throws {
        let connection = try context.connect(applicationName: "certbus-serve")
        defer { connection.close() }
        let pending = try Migrator.located().status(connection).filter { $0.appliedAt == nil }
        if let first = pending.first {
            throw CommandFailure(
                "the database has \(pending.count) pending migration(s), starting with \(first.name): run 'certbus migrate' first")
        }
    }

    /// Starts `services`, waits for SIGTERM/SIGINT, then stops them within `grace` seconds
    /// (a second signal exits at once).
    static func run(_ services: [any CertbusService], grace: Double, log: ServiceLog) async throws {
        var started: [any CertbusService] = []
        do {
            for service in services {
                try service.start()
                started.append(service)
                log(.info, service.name, "started")
            }
        } catch {
            for service in started.reversed() { service.stop(grace: 1) }
            throw error
        }
        let (signal, handler) = await SignalHandler.waitForShutdown()
        log(.info, "serve", "\(SignalHandler.name(signal)) received: stopping (grace \(grace)s; a second signal exits at once)")
        await withTaskGroup(of: Void.self) { group in
            for service in started {
                group.addTask {
                    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                        Thread.detachNewThread {
                            service.stop(grace: grace)
                            continuation.resume()
                        }
                    }
                    log(.info, service.name, "stopped")
                }
            }
        }
        handler.cancel()
    }
}
