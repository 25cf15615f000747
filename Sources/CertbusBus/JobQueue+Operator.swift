import CertbusCore
import Foundation
import Postgres

extension JobQueue {
    /// Cancels a job for `actor`, with an audit row in the same transaction: a QUEUED job
    /// becomes CANCELLED at once; a RUNNING job is flagged and its worker ends it CANCELLED
    /// (its handler sees `isCancelled`). Throws `.notFound` or `.wrongState` (finished jobs).
    public static func cancel(on connection: Connection, jobId: Int64, actor: Actor) throws -> CancelOutcome {
        try JobQueueError.translating {
            let text = try connection.withTransaction { c in
                try c.query("SELECT certbus.cancel_job($1, $2, $3) AS outcome", [jobId, actor.kind.rawValue, actor.id])[0]
                    .decode("outcome", as: String.self)
            }
            return CancelOutcome(rawValue: text) ?? .cancelled
        }
    }

    /// Queues a FAILED or CANCELLED job again (with a fresh budget of attempts), or runs a
    /// QUEUED one waiting for its scheduled time or backoff now; writes an audit row in the
    /// same transaction. Throws `.notFound`, `.wrongState` (RUNNING, SUCCESS) or `.duplicate`.
    public static func retry(on connection: Connection, jobId: Int64, actor: Actor) throws {
        try JobQueueError.translating {
            try connection.withTransaction { c in
                _ = try c.query("SELECT certbus.retry_job($1, $2, $3)", [jobId, actor.kind.rawValue, actor.id])
            }
        }
    }

    /// One job, or nil when there is none with that id.
    public static func job(on connection: Connection, id: Int64) throws -> JobRecord? {
        try connection.query("SELECT \(JobRecord.columns) FROM certbus.jobs WHERE id = $1", [id]).firstRow.map(JobRecord.init)
    }

    /// The finished attempts of a job, oldest first.
    public static func attempts(on connection: Connection, jobId: Int64) throws -> [JobAttemptRecord] {
        try connection.query(
            """
            SELECT job_id, attempt, worker_id, started_at, finished_at, extract(epoch FROM duration)::float8 AS duration_seconds,
                   outcome, error
              FROM certbus.job_attempts WHERE job_id = $1 ORDER BY attempt
            """, [jobId]
        ).map(JobAttemptRecord.init)
    }

    /// Jobs matching `filter`, newest first.
    public static func list(on connection: Connection, filter: JobFilter) throws -> [JobRecord] {
        guard filter.limit > 0 else { throw JobQueueError(.invalidArgument, "the limit must be at least 1") }
        return try connection.query(
            """
            SELECT \(JobRecord.columns) FROM certbus.jobs
             WHERE (cardinality($1::text[]) = 0 OR status = ANY ($1::text[]))
               AND (cardinality($2::text[]) = 0 OR kind = ANY ($2::text[]))
               AND ($3::timestamptz IS NULL OR created_at >= $3::timestamptz)
               AND ($4::text IS NULL OR queue = $4::text)
             ORDER BY id DESC
             LIMIT $5
            """,
            [filter.statuses.map(\.rawValue), filter.kinds.map(\.rawValue), filter.since, filter.queue, filter.limit]
        ).map(JobRecord.init)
    }
}
