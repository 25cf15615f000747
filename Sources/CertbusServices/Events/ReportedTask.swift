import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// Wraps a periodic task so that each run emits SCHEDULED_JOB_FINISHED (resource SCHEDULED_JOB, resource id =
/// the task name) with its outcome, summary or error, start and finish times. The success event commits in its
/// own transaction after the task's work; a failure is reported in a fresh transaction, then rethrown.
public struct ReportedTask: PeriodicTask {
    /// The task that does the work.
    public let task: any PeriodicTask
    public var name: String { task.name }
    public var interval: Double { task.interval }

    public init(_ task: any PeriodicTask) {
        self.task = task
    }

    public func run(_ connection: Connection) throws -> String {
        let started = Date()
        do {
            let summary = try task.run(connection)
            try EventLog.emit(on: connection, ScheduledJobFinishedEventData(
                task: task.name, outcome: .success, summary: summary, startedAt: started, finishedAt: Date()))
            return summary
        } catch {
            _ = try? EventLog.emit(on: connection, ScheduledJobFinishedEventData(
                task: task.name, outcome: .failure, summary: "failed", error: String(describing: error),
                startedAt: started, finishedAt: Date()))
            throw error
        }
    }
}

/// The "certificate expiring" monitoring task: the expiry scan (statuses, CERTIFICATE_EXPIRING) followed by the
/// expiry alert generator. Hourly by default; run it on demand with `certbus events scan` or `Scheduler.runSoon`.
public struct CertificateExpiryTask: PeriodicTask {
    public static let taskName = "certificate-expiry"
    public var name: String { Self.taskName }
    public var interval: Double
    public var scan: CertificateExpiryScan
    public var alerts: ExpiryAlerts

    public init(interval: Double = 3600, scan: CertificateExpiryScan = CertificateExpiryScan(),
                alerts: ExpiryAlerts = ExpiryAlerts()) {
        self.interval = interval
        self.scan = scan
        self.alerts = alerts
    }

    public func run(_ connection: Connection) throws -> String {
        let scanned = try scan.run(on: connection)
        let alerted = try alerts.run(on: connection)
        return "\(scanned); \(alerted)"
    }
}

/// The job part of the alert generator (failed jobs, renewal failures), every minute by default.
public struct JobFailureAlertTask: PeriodicTask {
    public static let taskName = "job-failure-alerts"
    public var name: String { Self.taskName }
    public var interval: Double
    public var alerts: JobFailureAlerts

    public init(interval: Double = 60, alerts: JobFailureAlerts = JobFailureAlerts()) {
        self.interval = interval
        self.alerts = alerts
    }

    public func run(_ connection: Connection) throws -> String {
        "\(try alerts.run(on: connection))"
    }
}

/// The periodic tasks of the events area, each reporting SCHEDULED_JOB_FINISHED, for the `Scheduler`.
public enum EventTasks {
    /// The expiry task (hourly), the job-failure alert task (every minute) and, unless the policy
    /// keeps events forever, the event-retention task (hourly).
    public static func all(
        expiryInterval: Double = 3600, jobAlertInterval: Double = 60, retention: EventRetentionPolicy = .standard
    ) -> [any PeriodicTask] {
        var tasks: [any PeriodicTask] = [
            ReportedTask(CertificateExpiryTask(interval: expiryInterval)),
            ReportedTask(JobFailureAlertTask(interval: jobAlertInterval)),
        ]
        if let days = retention.days { tasks.append(ReportedTask(EventRetention(days: days))) }
        return tasks
    }
}
