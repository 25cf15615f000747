import CertbusCore
import Foundation
import Postgres

/// The periodic task that takes back jobs whose lease expired (see `JobQueue.rescueExpired`).
public struct JobRescuer: PeriodicTask {
    public var name: String { "job-rescuer" }
    public var interval: Double
    /// The delay before a rescued job runs again.
    public var backoff: Backoff
    /// Most jobs taken back per statement; a run repeats until fewer are found.
    public var batchSize: Int

    public init(interval: Double = 5, backoff: Backoff = Backoff(), batchSize: Int = 1000) {
        self.interval = interval
        self.backoff = backoff
        self.batchSize = batchSize
    }

    public func run(_ connection: Connection) throws -> String {
        var total = RescueSummary()
        while true {
            let pass = try JobQueue.rescueExpired(on: connection, backoff: backoff, limit: batchSize)
            total.requeued += pass.requeued
            total.failed += pass.failed
            total.cancelled += pass.cancelled
            if pass.total < batchSize { break }
        }
        return "requeued \(total.requeued), failed \(total.failed), cancelled \(total.cancelled) jobs with expired leases"
    }
}

/// How long finished jobs are kept before the retention task deletes them.
public struct JobRetentionPolicy: Sendable, Equatable {
    /// SUCCESS jobs are kept this many seconds after completion (default 7 days).
    public var successful: Double
    /// FAILED and CANCELLED jobs are kept longer, for the weekly failure review (default 30 days).
    public var unsuccessful: Double

    public init(successful: Double = 7 * 86_400, unsuccessful: Double = 30 * 86_400) {
        self.successful = successful
        self.unsuccessful = unsuccessful
    }
}

/// The periodic task that deletes finished jobs (and their attempt rows) past the
/// retention period, in small batches — each its own short transaction — so it never
/// holds many locks or bloats one transaction, however far behind it is.
public struct JobRetention: PeriodicTask {
    public var name: String { "job-retention" }
    public var interval: Double
    public var policy: JobRetentionPolicy
    /// Rows deleted per transaction.
    public var batchSize: Int
    /// Most batches per run; the rest waits for the next run.
    public var maximumBatchesPerRun: Int

    public init(interval: Double = 60, policy: JobRetentionPolicy = JobRetentionPolicy(), batchSize: Int = 1000, maximumBatchesPerRun: Int = 100) {
        self.interval = interval
        self.policy = policy
        self.batchSize = batchSize
        self.maximumBatchesPerRun = maximumBatchesPerRun
    }

    public func run(_ connection: Connection) throws -> String {
        var deleted = 0
        for _ in 0..<maximumBatchesPerRun {
            let n = try Self.deleteBatch(on: connection, policy: policy, limit: batchSize)
            deleted += n
            if n < batchSize { break }
        }
        return "deleted \(deleted) finished jobs past retention"
    }

    /// Deletes up to `limit` finished jobs past their retention, with their attempt rows, in one
    /// short transaction. Returns how many jobs were deleted. Both deletes go through primary keys
    /// (`id = ANY(...)`), so their cost does not depend on the table's size or its statistics.
    public static func deleteBatch(on connection: Connection, policy: JobRetentionPolicy, limit: Int) throws -> Int {
        try connection.withTransaction { c in
            let ids = try c.query(
                """
                DELETE FROM certbus.jobs
                 WHERE status IN ('SUCCESS', 'FAILED', 'CANCELLED') AND id = ANY (ARRAY(
                   SELECT u.id FROM (
                     (SELECT id FROM certbus.jobs
                       WHERE status = 'SUCCESS' AND completed_at < now() - make_interval(secs => $1::float8)
                       ORDER BY completed_at LIMIT $3)
                     UNION ALL
                     (SELECT id FROM certbus.jobs
                       WHERE status IN ('FAILED', 'CANCELLED') AND completed_at < now() - make_interval(secs => $2::float8)
                       ORDER BY completed_at LIMIT $3)) u
                   LIMIT $3))
                RETURNING id
                """,
                [policy.successful, policy.unsuccessful, limit]
            ).map { try $0.decode("id", as: Int64.self) }
            if !ids.isEmpty {
                try c.execute("DELETE FROM certbus.job_attempts WHERE job_id = ANY ($1::bigint[])", [ids])
            }
            return ids.count
        }
    }
}

/// The periodic task that vacuums the queue's tables when dead rows pile up faster than
/// autovacuum removes them. Autovacuum visits a database once per `autovacuum_naptime`
/// (a minute by default): at thousands of jobs a second, each leaving three dead row
/// versions, that is long enough for the jobs table to bloat several-fold. This task checks
/// every `interval` seconds and runs `VACUUM (SKIP_LOCKED)` on `certbus.jobs` and
/// `certbus.job_attempts` once their dead rows exceed `minimumDeadRows` and a fifth of their
/// live rows. VACUUM does not block workers. It needs the table owner's privileges (or a
/// superuser); a session without them leaves the work to autovacuum.
public struct JobVacuum: PeriodicTask {
    public var name: String { "job-vacuum" }
    public var interval: Double
    /// Dead rows below which a table is left to autovacuum.
    public var minimumDeadRows: Int

    public init(interval: Double = 10, minimumDeadRows: Int = 50_000) {
        self.interval = interval
        self.minimumDeadRows = minimumDeadRows
    }

    public func run(_ connection: Connection) throws -> String {
        let due = try connection.query(
            """
            SELECT relname, n_dead_tup FROM pg_stat_user_tables
             WHERE schemaname = 'certbus' AND relname IN ('jobs', 'job_attempts')
               AND n_dead_tup > $1 AND n_dead_tup > n_live_tup / 5
               AND (pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = relid), 'USAGE')
                    OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))
             ORDER BY relname
            """, [minimumDeadRows]
        ).map { (try $0.decode("relname", as: String.self), try $0.decode("n_dead_tup", as: Int.self)) }
        for (table, _) in due {
            // The table name comes from the fixed list above, never from input.
            try connection.execute("VACUUM (SKIP_LOCKED) certbus.\(table == "jobs" ? "jobs" : "job_attempts")")
        }
        return due.isEmpty
            ? "nothing to vacuum" : "vacuumed " + due.map { "\($0.0) (\($0.1) dead rows)" }.joined(separator: ", ")
    }
}

/// The queue's maintenance: a `Scheduler` running the rescuer, the retention task and the vacuum task under
/// the `job-maintenance` leadership, so exactly one process of the deployment runs them.
/// Every `Worker` starts one by default (`WorkerOptions.runsMaintenance`), so a deployment
/// of workers alone keeps itself clean; `certbus serve` needs nothing more.
public enum JobMaintenance {
    /// The leadership name the maintenance scheduler competes for.
    public static let leadershipName = "job-maintenance"

    /// The maintenance scheduler: rescuer, retention and vacuum.
    public static func scheduler(
        configuration: ConnectionConfiguration, rescuer: JobRescuer = JobRescuer(), retention: JobRetention = JobRetention(),
        vacuum: JobVacuum = JobVacuum(), leadershipCheckInterval: Double = 5, log: ServiceLog
    ) -> Scheduler {
        Scheduler(
            name: "job-maintenance", configuration: configuration, leadershipName: leadershipName,
            tasks: [rescuer, retention, vacuum], leadershipCheckInterval: leadershipCheckInterval, log: log)
    }
}
