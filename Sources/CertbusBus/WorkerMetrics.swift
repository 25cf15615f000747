import CertbusMetrics
import Foundation
import Postgres

/// What one worker process did, as Prometheus series: attempts by kind and result, failures by
/// kind and class, and a histogram of attempt durations per kind. Counted by this process only
/// (the Prometheus norm: sum over all workers with `sum by (kind)`); they start at zero when the
/// process starts. Thread-safe.
public final class WorkerMetrics: Sendable {
    /// `certbus_worker_job_duration_seconds{kind}`.
    public let durations: LabeledHistogram
    /// `certbus_worker_job_attempts_total{kind,result}`.
    public let attempts: LabeledCounter
    /// `certbus_worker_job_failures_total{kind,class}`.
    public let failures: LabeledCounter

    /// The failure classes, in the order they are preset.
    public static let failureClasses = ["retryable", "permanent", "cancelled", "database", "unexpected"]

    /// Counters for a worker serving `kinds` (their series are shown as 0 from the start).
    public init(kinds: [String]) {
        durations = LabeledHistogram(
            "certbus_worker_job_duration_seconds",
            help: "Seconds this worker process spent on job attempts (handler and its commit, not the wait in the queue), by kind.",
            labelNames: ["kind"], bounds: HistogramBuckets.jobDurationSeconds, preset: kinds.map { [$0] })
        attempts = LabeledCounter(
            "certbus_worker_job_attempts_total", help: "Job attempts this worker process finished, by kind and result (success, failure).",
            labelNames: ["kind", "result"], preset: kinds.flatMap { [[$0, "success"], [$0, "failure"]] })
        failures = LabeledCounter(
            "certbus_worker_job_failures_total",
            help: "Failed job attempts of this worker process, by kind and class: retryable, permanent (JobFailure), cancelled "
                + "(cancel requested, run time exceeded or lease lost), database (a PostgreSQL error), unexpected (any other error).",
            labelNames: ["kind", "class"], preset: kinds.flatMap { kind in Self.failureClasses.map { [kind, $0] } })
    }

    /// Records one finished attempt: its duration and, for a failure, its class.
    public func record(kind: String, seconds: Double, failureClass: String?) {
        durations.observe(seconds, [kind])
        attempts.increment([kind, failureClass == nil ? "success" : "failure"])
        if let failureClass { failures.increment([kind, failureClass]) }
    }

    /// The class of a failed attempt: `cancelled` when the worker had told the handler to stop,
    /// else by the error: `permanent` or `retryable` (a `JobFailure`), `database` (a `PostgresError`)
    /// or `unexpected`.
    public static func failureClass(of error: Error, cancelled: Bool) -> String {
        if cancelled { return "cancelled" }
        if let failure = error as? JobFailure { return failure.isPermanent ? "permanent" : "retryable" }
        if error is PostgresError { return "database" }
        return "unexpected"
    }

    /// The families, with the live state and totals of `worker` added.
    func families(inFlight: Int, concurrency: Int, statistics: WorkerStatistics) -> [MetricFamily] {
        [
            .gauge("certbus_worker_jobs_in_flight", help: "Jobs this worker process holds now (claimed, running or waiting to be recorded).", [([], Double(inFlight))]),
            .gauge("certbus_worker_concurrency", help: "Jobs this worker process runs at the same time at most (--concurrency).", [([], Double(concurrency))]),
            .counter("certbus_worker_jobs_claimed_total", help: "Jobs this worker process claimed.", [([], Double(statistics.claimed))]),
            .counter(
                "certbus_worker_job_results_refused_total",
                help: "Results of this worker process refused because the job had been rescued or handed back meanwhile.",
                [([], Double(statistics.discarded))]),
            .counter("certbus_worker_jobs_handed_back_total", help: "Jobs this worker process handed back at shutdown without counting the attempt.", [([], Double(statistics.handedBack))]),
            attempts.family(), failures.family(), durations.family(),
        ]
    }
}
