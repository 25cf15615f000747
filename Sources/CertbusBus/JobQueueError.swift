import Foundation
import Postgres

/// Why the queue refused an operation, with a message an operator can act on.
/// Nothing was changed when one of these is thrown.
public struct JobQueueError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The kind of refusal.
    public enum Reason: String, Sendable {
        /// The kind is not in `certbus.job_kinds`.
        case unknownKind
        /// The payload is not a JSON object, too large, or misses a required field.
        case invalidPayload
        /// A job with the same kind and unique key is already QUEUED or RUNNING (`jobId` names it).
        case duplicate
        /// No job has the given id.
        case notFound
        /// The job's status does not allow the operation (cancel a finished job, retry a running one).
        case wrongState
        /// Another field is out of range (priority, queue name, max attempts, ...).
        case invalidArgument
    }

    public var reason: Reason
    public var message: String
    /// The job concerned: the existing job for `.duplicate`, the job asked for otherwise.
    public var jobId: Int64?

    public init(_ reason: Reason, _ message: String, jobId: Int64? = nil) {
        self.reason = reason
        self.message = message
        self.jobId = jobId
    }

    public var description: String { message }

    /// Messages for the jobs table's CHECK constraints, by constraint name.
    static let constraintMessages: [String: String] = [
        "jobs_priority_check": "priority must be between 0 and 1000 (lower runs first)",
        "jobs_queue_check": "a queue name is 1 to 63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit",
        "jobs_max_attempts_check": "max attempts must be between 1 and 10000",
        "jobs_unique_key_check": "a unique key is 1 to 200 characters",
        "jobs_name_check": "a job name is 1 to 200 characters",
        "jobs_kind_check": "a job kind is UPPER_SNAKE_CASE, at most 63 characters",
        "jobs_triggered_by_type_check": "triggered-by type must be SYSTEM, USER or AGENT",
        "jobs_triggered_by_id_check": "triggered-by id must be 1 to 200 characters",
        "jobs_attempt_within_budget": "max attempts cannot be below the attempts already made",
    ]

    /// Translates a database refusal into a `JobQueueError`; nil for errors that are not
    /// about the request (connection loss, bugs), which callers rethrow unchanged.
    public static func from(_ error: PostgresError) -> JobQueueError? {
        guard error.kind == .server, let state = error.sqlState else { return nil }
        let text = error.message
        switch state {
        case "22023":
            return JobQueueError(error.column == "kind" ? .unknownKind : .invalidPayload, text)
        case "22P02", "22P05", "22032":
            return JobQueueError(.invalidPayload, "the payload is not valid JSON: \(text)\(error.detail.map { " (\($0))" } ?? "")")
        case "23505" where error.constraint == "jobs_unique_key":
            let existing = error.detail.flatMap { detail in
                detail.split(separator: " ").last.flatMap { Int64($0) }
            }
            return JobQueueError(.duplicate, text, jobId: existing)
        case "23514", "23502":
            let message = error.constraint.flatMap { constraintMessages[$0] } ?? text
            return JobQueueError(.invalidArgument, message)
        case "P0002":
            return JobQueueError(.notFound, text)
        case "55000":
            return JobQueueError(.wrongState, text)
        default:
            return nil
        }
    }

    /// Runs `body`, translating database refusals into `JobQueueError`s.
    static func translating<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as PostgresError {
            if let translated = from(error) { throw translated }
            throw error
        }
    }
}
