import CertbusCore
import Foundation
import Postgres

/// The job queue's operations, each a few statements on a connection the caller
/// provides — so that enqueueing joins the caller's transaction (outbox pattern:
/// the job commits with the change that caused it, or not at all).
///
/// - Enqueue: `enqueue`, `enqueueIfAbsent`, `enqueue(batch:)` (this file).
/// - Claim and lease upkeep for workers: `claim`, `heartbeat`, `handBack` (JobQueue+Claim.swift).
/// - Finishing attempts, fenced on the worker that claimed them: `complete`, `fail`,
///   `completeBatch`, `failBatch` (JobQueue+Completion.swift).
/// - Rescue of expired leases (JobQueue+Rescue.swift).
/// - Operator actions and listings: `cancel`, `retry`, `list`, `show` (JobQueue+Operator.swift).
public enum JobQueue {
    /// The NOTIFY channel on which the database announces new QUEUED jobs (payload: the queue name).
    public static let channel = "certbus_jobs"

    /// Most rows sent in one INSERT by `enqueue(batch:)`; larger batches are split.
    public static let batchChunkSize = 5000

    /// Enqueues one job and returns its id. Throws `JobQueueError` when the kind is
    /// unknown, the payload is refused, a field is out of range, or (`.duplicate`) a job
    /// with the same kind and unique key is already QUEUED or RUNNING.
    @discardableResult
    public static func enqueue(on connection: Connection, _ job: NewJob) throws -> Int64 {
        try checkPayload(job, index: nil)
        return try JobQueueError.translating {
            try connection.query(enqueueSQL("enqueue_job"), parameters(job))[0].decode("id", as: Int64.self)
        }
    }

    /// Like `enqueue`, but returns nil (and changes nothing) when a job with the same
    /// kind and unique key is already QUEUED or RUNNING.
    @discardableResult
    public static func enqueueIfAbsent(on connection: Connection, _ job: NewJob) throws -> Int64? {
        try checkPayload(job, index: nil)
        return try JobQueueError.translating {
            try connection.query(enqueueSQL("enqueue_job_if_absent"), parameters(job))[0].decode("id", as: Int64?.self)
        }
    }

    /// Enqueues many jobs with one INSERT per `batchChunkSize` rows and returns their ids
    /// in input order; nil where a job's unique key was already QUEUED or RUNNING (or
    /// repeated earlier in the batch). All or nothing: one refused job refuses the
    /// batch (the error names its position when it can). Run it inside a transaction
    /// to make a batch larger than one chunk atomic.
    public static func enqueue(on connection: Connection, batch jobs: [NewJob]) throws -> [Int64?] {
        for (i, job) in jobs.enumerated() { try checkPayload(job, index: i) }
        var ids: [Int64?] = []
        ids.reserveCapacity(jobs.count)
        var start = 0
        while start < jobs.count {
            let chunk = Array(jobs[start..<min(start + batchChunkSize, jobs.count)])
            ids += try JobQueueError.translating { try insertChunk(on: connection, chunk) }
            start += chunk.count
        }
        return ids
    }

    private static func insertChunk(on connection: Connection, _ jobs: [NewJob]) throws -> [Int64?] {
        let keyed = jobs.contains { $0.uniqueKey != nil }
        let sql = """
            INSERT INTO certbus.jobs (kind, payload, name, priority, run_at, unique_key, max_attempts, queue,
                                      triggered_by_type, triggered_by_id, ca_id, certificate_id)
            SELECT u.kind, u.payload, u.name, u.priority, coalesce(u.run_at, now()), u.unique_key, u.max_attempts,
                   u.queue, u.tb_type, u.tb_id, u.ca_id, u.certificate_id
              FROM unnest($1::text[], $2::jsonb[], $3::text[], $4::int[], $5::timestamptz[], $6::text[], $7::int[],
                          $8::text[], $9::text[], $10::text[], $11::uuid[], $12::uuid[]) WITH ORDINALITY
                   AS u(kind, payload, name, priority, run_at, unique_key, max_attempts, queue, tb_type, tb_id,
                        ca_id, certificate_id, n)
             ORDER BY u.n
            \(keyed ? "ON CONFLICT (kind, unique_key) WHERE unique_key IS NOT NULL AND status IN ('QUEUED', 'RUNNING') DO NOTHING" : "")
            RETURNING id, kind, unique_key
            """
        let result = try connection.query(
            sql,
            [
                jobs.map(\.kind.rawValue), jobs.map(\.payload.text), jobs.map(\.name), jobs.map(\.priority),
                jobs.map(\.runAt), jobs.map(\.uniqueKey), jobs.map(\.maxAttempts), jobs.map(\.queue),
                jobs.map(\.triggeredBy.kind.rawValue), jobs.map(\.triggeredBy.id), jobs.map(\.caId),
                jobs.map(\.certificateId),
            ])
        // Rows come back in insertion order. Unkeyed jobs are always inserted; keyed ones
        // are matched by (kind, key), the first occurrence in the batch winning.
        var unkeyed: [Int64] = []
        var byKey: [String: Int64] = [:]
        for row in result {
            let id = try row.decode("id", as: Int64.self)
            if let key = try row.decode("unique_key", as: String?.self) {
                byKey[try row.decode("kind", as: String.self) + "\u{0}" + key] = id
            } else {
                unkeyed.append(id)
            }
        }
        var next = 0
        return jobs.map { job in
            guard let key = job.uniqueKey else {
                defer { next += 1 }
                return unkeyed[next]
            }
            return byKey.removeValue(forKey: job.kind.rawValue + "\u{0}" + key)
        }
    }

    private static func enqueueSQL(_ function: String) -> String {
        "SELECT certbus.\(function)($1, $2::jsonb, $3, $4, $5::timestamptz, $6, $7, $8, $9, $10, $11::uuid, $12::uuid) AS id"
    }

    private static func parameters(_ job: NewJob) -> [any PostgresEncodable] {
        [
            job.kind.rawValue, job.payload, job.name, job.priority, job.runAt, job.uniqueKey, job.maxAttempts, job.queue,
            job.triggeredBy.kind.rawValue, job.triggeredBy.id, job.caId, job.certificateId,
        ]
    }

    /// Refuses payload text that is not a JSON object before it reaches the database,
    /// with a message that names the batch position.
    static func checkPayload(_ job: NewJob, index: Int?) throws {
        let position = index.map { " (job \($0 + 1) of the batch)" } ?? ""
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: Data(job.payload.text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw JobQueueError(.invalidPayload, "the \(job.kind) payload is not valid JSON\(position): \(jsonProblem(error))")
        }
        guard parsed is [String: Any] else {
            throw JobQueueError(.invalidPayload, "the \(job.kind) payload must be a JSON object like {\"key\": \"value\"}\(position)")
        }
    }

    private static func jsonProblem(_ error: Error) -> String {
        let ns = error as NSError
        return (ns.userInfo[NSDebugDescriptionErrorKey] as? String) ?? ns.localizedDescription
    }
}
