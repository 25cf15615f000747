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
            "SELECT * FROM certbus.claim_jobs($1::text, $2::int, $3::text[], $4::text[], $5::float8, $6::text[], $7::float8[])",
            [
                workerId, limit, queues, kinds?.map(\.rawValue), leaseSeconds, capKinds.map(\.rawValue),
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
            "SELECT * FROM certbus.heartbeat_jobs($1::text, $2::float8, $3::bigint[], $4::int[], $5::float8[])",
            [workerId, leaseSeconds, jobs.map(\.jobId), jobs.map(\.attempt), jobs.map(\.maximumRunTime)])
        var result = HeartbeatResult()
        for row in rows {
            let id = try row.decode("job_id", as: Int64.self)
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
            "SELECT * FROM certbus.release_jobs($1::text, $2::bigint[], $3::int[])", [workerId, jobs.map(\.id), jobs.map(\.attempt)])
        return rows.count
    }
}
