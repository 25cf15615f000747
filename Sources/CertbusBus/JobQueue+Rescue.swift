import CertbusCore
import Foundation
import Postgres

/// What one rescue pass did.
public struct RescueSummary: Sendable, Equatable {
    /// Jobs put back to QUEUED (attempt counted, run after a backoff).
    public var requeued = 0
    /// Jobs that had spent their attempts and ended FAILED.
    public var failed = 0
    /// Jobs an operator had asked to cancel, ended CANCELLED.
    public var cancelled = 0

    public init(requeued: Int = 0, failed: Int = 0, cancelled: Int = 0) {
        self.requeued = requeued
        self.failed = failed
        self.cancelled = cancelled
    }

    /// All jobs taken back.
    public var total: Int { requeued + failed + cancelled }
}

extension JobQueue {
    /// Takes back up to `limit` RUNNING jobs whose lease expired (database clock): their
    /// worker died, lost the database, or overran the kind's maximum run time. Each expired
    /// attempt counts: the job is requeued after a backoff, or ends FAILED when it has no
    /// attempts left (CANCELLED when a cancel was requested), and a LEASE_EXPIRED attempt row
    /// is written. Safe to run from several processes at once (`SKIP LOCKED`).
    public static func rescueExpired(on connection: Connection, backoff: Backoff, limit: Int = 1000) throws -> RescueSummary {
        let rows = try connection.query(
            """
            WITH expired AS (
              SELECT id, locked_by AS worker, lease_expires_at FROM certbus.jobs
               WHERE status = 'RUNNING' AND lease_expires_at < now()
               ORDER BY lease_expires_at
               LIMIT $1
               FOR UPDATE SKIP LOCKED
            ), rescued AS (
              UPDATE certbus.jobs j
                 SET status = CASE WHEN j.cancel_requested_at IS NOT NULL THEN 'CANCELLED'
                                   WHEN j.attempt >= j.max_attempts THEN 'FAILED' ELSE 'QUEUED' END,
                     run_at = CASE WHEN j.cancel_requested_at IS NULL AND j.attempt < j.max_attempts
                                   THEN now() + make_interval(secs => LEAST($3::float8, $2::float8 * power(2, LEAST(j.attempt - 1, 62)))
                                                                      * (1 + $4::float8 * (2 * random() - 1)))
                                   ELSE j.run_at END,
                     completed_at = CASE WHEN j.cancel_requested_at IS NULL AND j.attempt < j.max_attempts
                                         THEN NULL ELSE now() END,
                     error = format('attempt %s: the lease expired at %s while running on %s (the worker stopped, lost '
                                    'its database connection, or exceeded the kind''s maximum run time)',
                                    j.attempt, to_char(e.lease_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), e.worker),
                     locked_by = NULL, lease_expires_at = NULL
                FROM expired e
               WHERE j.id = e.id
              RETURNING j.id, j.attempt, j.kind, j.started_at, j.status, j.error, e.worker
            ), history AS (
              INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
              SELECT id, attempt, kind, worker, started_at, now(), 'LEASE_EXPIRED', error FROM rescued
              ON CONFLICT (job_id, attempt) DO NOTHING
            )
            SELECT status, count(*) AS n FROM rescued GROUP BY status
            """,
            [limit, backoff.base, backoff.maximum, backoff.jitter])
        var summary = RescueSummary()
        for row in rows {
            let n = try row.decode("n", as: Int.self)
            switch try row.decode("status", as: String.self) {
            case "QUEUED": summary.requeued = n
            case "FAILED": summary.failed = n
            default: summary.cancelled = n
            }
        }
        return summary
    }
}
