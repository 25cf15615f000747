import CertbusCore
import Foundation
import Postgres

extension JobQueue {
    /// Claims up to `limit` due QUEUED jobs of `queues` (and of `kinds`, all kinds when
    /// nil) in priority order, marks them RUNNING for `workerId` with a lease of
    /// `leaseSeconds` (capped per kind by `maximumRunTimes`), counts the attempt, and
    /// commits at once. Concurrent claimers skip each other's rows (`FOR UPDATE SKIP LOCKED`),
    /// so no job is handed to two workers.
    public static func claim(
        on connection: Connection, workerId: String, limit: Int, queues: [String], kinds: [JobKind]?,
        leaseSeconds: Double, maximumRunTimes: [JobKind: Double] = [:]
    ) throws -> [ClaimedJob] {
        guard limit > 0 else { return [] }
        let capKinds = Array(maximumRunTimes.keys)
        let result = try connection.query(
            """
            UPDATE certbus.jobs j
               SET status = 'RUNNING', attempt = j.attempt + 1, started_at = now(), locked_by = $1,
                   lease_expires_at = now() + make_interval(secs => LEAST($2::float8, coalesce(
                     (SELECT c.seconds FROM unnest($6::text[], $7::float8[]) AS c(kind, seconds) WHERE c.kind = j.kind),
                     $2::float8)))
             WHERE j.id = ANY (ARRAY(
                     SELECT q.id FROM certbus.jobs q
                      WHERE q.status = 'QUEUED' AND q.run_at <= now() AND q.queue = ANY ($3::text[])
                        AND ($4::text[] IS NULL OR q.kind = ANY ($4::text[]))
                      ORDER BY q.priority, q.run_at, q.id
                      LIMIT $5
                      FOR UPDATE SKIP LOCKED))
            RETURNING j.id, j.kind, j.name, j.payload, j.attempt, j.max_attempts, j.ca_id, j.certificate_id,
                      j.triggered_by_type, j.triggered_by_id, j.queue, j.priority, j.run_at, j.started_at,
                      j.lease_expires_at
            """,
            [
                workerId, leaseSeconds, queues, kinds?.map(\.rawValue), limit, capKinds.map(\.rawValue),
                capKinds.map { maximumRunTimes[$0]! },
            ])
        var claimed = try result.map { try ClaimedJob(row: $0, workerId: workerId) }
        claimed.sort { ($0.job.priority, $0.job.id) < ($1.job.priority, $1.job.id) }
        return claimed
    }

    /// Extends the leases of `jobs` held by `workerId` to `leaseSeconds` from now (database
    /// clock), never past each job's start plus its maximum run time, in one statement.
    /// Reports which jobs are still held, which an operator asked to cancel, and which are
    /// lost (rescued, or past their maximum run time) — a worker stops caring about lost ones:
    /// their completion would be refused anyway.
    public static func heartbeat(
        on connection: Connection, workerId: String, jobs: [HeldJob], leaseSeconds: Double
    ) throws -> HeartbeatResult {
        guard !jobs.isEmpty else { return HeartbeatResult() }
        let rows = try connection.query(
            """
            UPDATE certbus.jobs j
               SET lease_expires_at = LEAST(now() + make_interval(secs => $2::float8),
                                            j.started_at + make_interval(secs => h.max_run))
              FROM unnest($3::bigint[], $4::int[], $5::float8[]) AS h(id, attempt, max_run)
             WHERE j.id = h.id AND j.attempt = h.attempt AND j.status = 'RUNNING' AND j.locked_by = $1
            RETURNING j.id, j.lease_expires_at > now() AS held, j.cancel_requested_at IS NOT NULL AS cancel_requested
            """,
            [workerId, leaseSeconds, jobs.map(\.jobId), jobs.map(\.attempt), jobs.map(\.maximumRunTime)])
        var result = HeartbeatResult()
        for row in rows {
            let id = try row.decode("id", as: Int64.self)
            if try row.decode("held", as: Bool.self) {
                result.held.insert(id)
                if try row.decode("cancel_requested", as: Bool.self) { result.cancelRequested.insert(id) }
            }
        }
        result.lost = Set(jobs.map(\.jobId)).subtracting(result.held)
        return result
    }

    /// Gives claimed jobs back without counting the attempt (a worker shutting down, or
    /// jobs claimed but never started): QUEUED again at once, or CANCELLED when an operator
    /// asked for that meanwhile. Fenced: only jobs still RUNNING for `workerId` at that attempt.
    /// Returns how many were handed back.
    @discardableResult
    public static func handBack(on connection: Connection, workerId: String, jobs: [(id: Int64, attempt: Int)]) throws -> Int {
        guard !jobs.isEmpty else { return 0 }
        let rows = try connection.query(
            """
            UPDATE certbus.jobs j
               SET status = CASE WHEN j.cancel_requested_at IS NULL THEN 'QUEUED' ELSE 'CANCELLED' END,
                   completed_at = CASE WHEN j.cancel_requested_at IS NULL THEN NULL ELSE now() END,
                   attempt = j.attempt - 1, locked_by = NULL, lease_expires_at = NULL
              FROM unnest($2::bigint[], $3::int[]) AS h(id, attempt)
             WHERE j.id = h.id AND j.attempt = h.attempt AND j.status = 'RUNNING' AND j.locked_by = $1
            RETURNING j.queue, j.status
            """,
            [workerId, jobs.map(\.id), jobs.map(\.attempt)])
        // Wake other workers for the jobs now QUEUED again.
        var queues = Set<String>()
        for row in rows where try row.decode("status", as: String.self) == "QUEUED" {
            queues.insert(try row.decode("queue", as: String.self))
        }
        for queue in queues.sorted() { try connection.notify(channel, payload: queue) }
        return rows.count
    }
}
