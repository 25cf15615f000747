import CertbusCore
import Foundation
import Postgres

/// Runs `NOOP` jobs: does nothing, for benchmarks and smoke tests. Optional payload fields:
/// - `sleep_ms` (integer): sleep that long first (stopping early when cancelled);
/// - `fail`: `"retryable"` or `"permanent"` to fail instead of succeeding;
/// - `fail_attempts` (integer): fail (retryably) only the first n attempts;
/// - `record`: `"run"` writes a `certbus.noop_runs` row when the handler runs (outside the
///   job's transaction, so it counts executions; its `at` is the moment the handler started,
///   which the queue benchmark uses to measure enqueue-to-start latency), `"commit"` writes it
///   in the transaction that marks the job SUCCESS (so it counts committed successes).
public struct NoopHandler: JobHandler {
    public var kind: JobKind { .noop }
    public var maximumRunTime: Double

    public init(maximumRunTime: Double = 300) {
        self.maximumRunTime = maximumRunTime
    }

    struct Payload: Decodable {
        var sleep_ms: Int?
        var fail: String?
        var fail_attempts: Int?
        var record: String?
    }

    public func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        if job.payload.count <= 2 { return .done }  // "{}": the benchmark's path
        let startedAt = Date()
        let payload: Payload = try job.decodePayload()
        if let record = payload.record, record != "run" && record != "commit" {
            throw JobFailure.permanent("NOOP payload field \"record\" must be \"run\" or \"commit\", not \"\(record)\"")
        }
        if payload.record == "run" {
            _ = try context.database.withConnection { c in
                try c.execute(
                    "INSERT INTO certbus.noop_runs (job_id, attempt, worker_id, phase, at) VALUES ($1, $2, $3, 'run', $4)",
                    [job.id, job.attempt, context.workerId, startedAt])
            }
        }
        if let ms = payload.sleep_ms, ms > 0 {
            let deadline = Date().addingTimeInterval(Double(ms) / 1000)
            while Date() < deadline {
                if context.isCancelled { throw JobFailure.retryable("NOOP stopped: cancelled while sleeping") }
                Thread.sleep(forTimeInterval: min(0.01, max(0, deadline.timeIntervalSinceNow)))
            }
        }
        switch payload.fail {
        case nil: break
        case "retryable": throw JobFailure.retryable("NOOP asked to fail (retryable), attempt \(job.attempt)")
        case "permanent": throw JobFailure.permanent("NOOP asked to fail (permanent)")
        case let other?: throw JobFailure.permanent("NOOP payload field \"fail\" must be \"retryable\" or \"permanent\", not \"\(other)\"")
        }
        if let n = payload.fail_attempts, job.attempt <= n {
            throw JobFailure.retryable("NOOP asked to fail attempts 1...\(n); this is attempt \(job.attempt)")
        }
        guard payload.record == "commit" else { return JobCompletion(output: #"{"noop": true}"#) }
        let id = job.id, attempt = job.attempt, worker = context.workerId
        return JobCompletion(output: #"{"noop": true}"#) { c in
            try c.execute(
                "INSERT INTO certbus.noop_runs (job_id, attempt, worker_id, phase) VALUES ($1, $2, $3, 'commit')",
                [id, attempt, worker])
        }
    }
}
