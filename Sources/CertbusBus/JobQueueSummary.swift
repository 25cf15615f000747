import CertbusCore
import Foundation
import Postgres

/// The state of the queue at one moment, per kind, and the jobs that ended FAILED recently:
/// what `certbus jobs watch` shows. Read with one statement over the partial indexes of QUEUED,
/// leased and unsuccessful jobs (never the SUCCESS history).
public struct JobQueueSummary: Sendable, Equatable {
    /// One kind's counts.
    public struct KindCounts: Sendable, Equatable, Encodable {
        public var kind: String
        /// QUEUED jobs whose run_at has come: waiting for a worker.
        public var due: Int
        /// QUEUED jobs scheduled for later.
        public var scheduled: Int
        /// RUNNING jobs.
        public var running: Int
        /// FAILED jobs still kept (30 days by default).
        public var failed: Int
        /// How long the oldest due job has waited past its run_at (nil when none waits).
        public var oldestDueSeconds: Double?

        public init(kind: String, due: Int = 0, scheduled: Int = 0, running: Int = 0, failed: Int = 0, oldestDueSeconds: Double? = nil) {
            self.kind = kind
            self.due = due
            self.scheduled = scheduled
            self.running = running
            self.failed = failed
            self.oldestDueSeconds = oldestDueSeconds
        }

        /// The counts without the waiting time (which grows on its own between two reads).
        var counts: [Int] { [due, scheduled, running, failed] }

        enum CodingKeys: String, CodingKey {
            case kind, due, scheduled, running, failed
            case oldestDueSeconds = "oldest_due_seconds"
        }
    }

    /// A job that ended FAILED.
    public struct Failure: Sendable, Equatable, Encodable {
        public var jobId: Int64
        public var kind: String
        public var attempt: Int
        public var error: String
        public var completedAt: Date

        public init(jobId: Int64, kind: String, attempt: Int, error: String, completedAt: Date) {
            self.jobId = jobId
            self.kind = kind
            self.attempt = attempt
            self.error = error
            self.completedAt = completedAt
        }

        enum CodingKeys: String, CodingKey {
            case kind, attempt, error
            case jobId = "job_id"
            case completedAt = "completed_at"
        }
    }

    /// Kinds with anything queued, running or failed, by name.
    public var kinds: [KindCounts]
    /// Jobs that ended FAILED since the time asked for, newest first (at most 20).
    public var failures: [Failure]

    public init(kinds: [KindCounts], failures: [Failure]) {
        self.kinds = kinds
        self.failures = failures
    }

    /// Reads the summary, limited to `kinds` when given; failures since `failuresSince`.
    public static func read(on connection: Connection, kinds: [JobKind]? = nil, failuresSince: Date) throws -> JobQueueSummary {
        let filter = kinds?.map(\.rawValue)
        let rows = try connection.query(
            """
            WITH queued AS (
              SELECT kind, count(*) FILTER (WHERE run_at <= now()) AS due, count(*) FILTER (WHERE run_at > now()) AS scheduled,
                     extract(epoch FROM now() - min(run_at) FILTER (WHERE run_at <= now()))::float8 AS oldest_due
                FROM certbus.jobs WHERE status = 'QUEUED' AND ($1::text[] IS NULL OR kind = ANY ($1)) GROUP BY kind),
            running AS (
              SELECT kind, count(*) AS running FROM certbus.jobs
               WHERE lease_expires_at IS NOT NULL AND ($1::text[] IS NULL OR kind = ANY ($1)) GROUP BY kind),
            failed AS (
              SELECT kind, count(*) AS failed FROM certbus.jobs
               WHERE status = 'FAILED' AND ($1::text[] IS NULL OR kind = ANY ($1)) GROUP BY kind)
            SELECT k.kind, coalesce(q.due, 0)::int AS due, coalesce(q.scheduled, 0)::int AS scheduled,
                   coalesce(r.running, 0)::int AS running, coalesce(f.failed, 0)::int AS failed, q.oldest_due
              FROM (SELECT kind FROM queued UNION SELECT kind FROM running UNION SELECT kind FROM failed) k
              LEFT JOIN queued q USING (kind) LEFT JOIN running r USING (kind) LEFT JOIN failed f USING (kind)
             ORDER BY k.kind
            """, [filter])
        let counts = try rows.map { row in
            KindCounts(
                kind: try row.decode("kind"), due: try row.decode("due"), scheduled: try row.decode("scheduled"),
                running: try row.decode("running"), failed: try row.decode("failed"), oldestDueSeconds: try row.decode("oldest_due"))
        }
        let failures = try connection.query(
            """
            SELECT id, kind, attempt, coalesce(error, '') AS error, completed_at FROM certbus.jobs
             WHERE status = 'FAILED' AND completed_at > $1 AND ($2::text[] IS NULL OR kind = ANY ($2))
             ORDER BY completed_at DESC, id DESC LIMIT 20
            """, [failuresSince, filter]
        ).map { row in
            Failure(
                jobId: try row.decode("id"), kind: try row.decode("kind"), attempt: try row.decode("attempt"),
                error: try row.decode("error"), completedAt: try row.decode("completed_at"))
        }
        return JobQueueSummary(kinds: counts, failures: failures)
    }

    /// The kinds whose counts differ from `previous` (appeared, changed, or fell to nothing, the
    /// last shown with zeros); the waiting time alone does not count as a change.
    public func changedKinds(since previous: JobQueueSummary) -> [KindCounts] {
        let before = Dictionary(previous.kinds.map { ($0.kind, $0) }, uniquingKeysWith: { a, _ in a })
        let now = Dictionary(kinds.map { ($0.kind, $0) }, uniquingKeysWith: { a, _ in a })
        var changed = kinds.filter { before[$0.kind]?.counts != $0.counts }
        changed += previous.kinds.filter { now[$0.kind] == nil }.map { KindCounts(kind: $0.kind) }
        return changed.sorted { $0.kind < $1.kind }
    }

    /// Failures not in `previous`, newest first.
    public func newFailures(since previous: JobQueueSummary) -> [Failure] {
        // A job retried by an operator may fail again: (id, completion time) tells the two failures apart.
        let known = Set(previous.failures.map { "\($0.jobId)@\($0.completedAt.timeIntervalSince1970)" })
        return failures.filter { !known.contains("\($0.jobId)@\($0.completedAt.timeIntervalSince1970)") }
    }
}
