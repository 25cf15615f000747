import CertbusCore
import Foundation
import Postgres

extension JobQueue {
    /// Records many finished attempts of `workerId` at once: one fenced UPDATE for the
    /// successes and one for the failures, each also inserting the attempts' history rows,
    /// all in one transaction. Only attempts still RUNNING for `workerId` at the claimed
    /// attempt number are changed (a job rescued meanwhile is left alone). Returns the ids
    /// of the jobs that were changed.
    ///
    /// Failures requeue the job after their retry delay, or end it FAILED when permanent or
    /// when it was the last allowed attempt, or CANCELLED when an operator asked for a cancel.
    @discardableResult
    public static func finish(on connection: Connection, workerId: String, _ results: [AttemptResult]) throws -> Set<Int64> {
        guard !results.isEmpty else { return [] }
        var successes: [(AttemptResult, String?, UUID?, String?)] = []
        var failures: [(AttemptResult, String, Bool, Double)] = []
        for result in results {
            switch result.outcome {
            case .success(let output, let issued, let request):
                successes.append((result, output.map(outputJSON), issued, request))
            case .failure(let message, let permanent, let delay):
                failures.append((result, message, permanent, delay))
            }
        }
        let body = { (c: Connection) throws -> Set<Int64> in
            var changed: Set<Int64> = []
            if !successes.isEmpty {
                let rows = try c.query(
                    successSQL,
                    [
                        workerId, successes.map(\.0.jobId), successes.map(\.0.attempt), successes.map(\.1),
                        successes.map(\.2), successes.map(\.3),
                    ])
                for row in rows { changed.insert(try row.decode("id", as: Int64.self)) }
            }
            if !failures.isEmpty {
                let rows = try c.query(
                    failureSQL,
                    [
                        workerId, failures.map(\.0.jobId), failures.map(\.0.attempt), failures.map(\.1),
                        failures.map(\.2), failures.map(\.3),
                    ])
                for row in rows { changed.insert(try row.decode("id", as: Int64.self)) }
            }
            return changed
        }
        if successes.isEmpty || failures.isEmpty { return try body(connection) }
        return try connection.withTransaction(body)
    }

    /// Marks one claimed job SUCCESS and runs the handler's `commit` closure in the same
    /// transaction, so the handler's database effects and the job's SUCCESS commit together.
    /// Returns false (and commits nothing, not running `commit`) when the job is no longer
    /// this worker's attempt. An error from `commit` rolls everything back and is rethrown.
    public static func complete(on connection: Connection, _ claimed: ClaimedJob, _ completion: JobCompletion) throws -> Bool {
        try connection.withTransaction { c in
            let rows = try c.query(
                successSQL,
                [
                    claimed.workerId, [claimed.job.id], [claimed.job.attempt], [completion.output.map(outputJSON)],
                    [completion.issuedCertificateId], [completion.caRequestId],
                ])
            guard !rows.isEmpty else { return false }
            try completion.commit?(c)
            return true
        }
    }

    /// Records one failed attempt and runs the failure's `commit` closure in the same
    /// transaction. Returns false (committing nothing) when the job is no longer this
    /// worker's attempt.
    public static func fail(on connection: Connection, _ claimed: ClaimedJob, _ failure: JobFailure, retryDelay: Double) throws -> Bool {
        try connection.withTransaction { c in
            let rows = try c.query(
                failureSQL,
                [
                    claimed.workerId, [claimed.job.id], [claimed.job.attempt], [failure.message], [failure.isPermanent],
                    [retryDelay],
                ])
            guard !rows.isEmpty else { return false }
            try failure.commit?(c)
            return true
        }
    }

    /// Output text as JSON: kept when it is a JSON document, otherwise stored as a JSON string.
    static func outputJSON(_ output: String) -> String {
        if let data = output.data(using: .utf8),
            (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil
        {
            return output
        }
        return (try? PostgresJSON(encoding: output).text) ?? "null"
    }

    static let successSQL =
        "SELECT job_id AS id FROM certbus.complete_jobs($1::text, $2::bigint[], $3::int[], $4::jsonb[], $5::uuid[], $6::text[]) AS job_id"

    static let failureSQL =
        "SELECT job_id AS id, status FROM certbus.fail_jobs($1::text, $2::bigint[], $3::int[], $4::text[], $5::bool[], $6::float8[])"
}
