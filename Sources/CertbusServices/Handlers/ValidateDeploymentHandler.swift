import CertbusBus
import CertbusCore
import CertbusHTTP
import Foundation
import Postgres

/// Runs VALIDATE_DEPLOYMENT jobs: probes the endpoint with `TLSProbe`, compares the served
/// leaf with the endpoint's expected certificate (`DeploymentCheck`), and records the result
/// with `DeploymentRecorder` in the job's completing transaction.
///
/// Payload: `{"endpoint_id": "<uuid>", "timeout_seconds": 10}` (timeout optional, 1–60).
///
/// - Validated: the job succeeds; the endpoint moves Install validation in progress →
///   Installation validated → Automation successful; DEPLOYMENT_VALIDATED; open deployment alerts resolve.
/// - Wrong certificate, expired, names or chain wrong, not TLS: the job fails permanently; the endpoint
///   moves to Install validation failed; DEPLOYMENT_FAILED; an ERROR alert on the endpoint.
/// - Unreachable (refused, timeout, DNS): retried with backoff while attempts remain (the server may be
///   restarting after an install); the last attempt records it like a failure, sensor endpoints going
///   to IP Unreachable.
public struct ValidateDeploymentHandler: JobHandler {
    public let kind = JobKind.validateDeployment
    /// Default probe timeout in seconds when the payload gives none.
    public var probeTimeout: Double
    /// The time validity is checked at.
    public var clock: @Sendable () -> Date

    public init(probeTimeout: Double = 10, clock: @escaping @Sendable () -> Date = { Date() }) {
        self.probeTimeout = probeTimeout
        self.clock = clock
    }

    public var maximumRunTime: Double { 60 + 30 }

    /// The job's input.
    public struct Payload: Codable, Sendable, Equatable {
        public var endpointId: UUID
        public var timeoutSeconds: Double?

        public init(endpointId: UUID, timeoutSeconds: Double? = nil) {
            self.endpointId = endpointId
            self.timeoutSeconds = timeoutSeconds
        }

        enum CodingKeys: String, CodingKey {
            case endpointId = "endpoint_id", timeoutSeconds = "timeout_seconds"
        }
    }

    public func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        let payload = try job.decodePayload(Payload.self)
        let timeout = payload.timeoutSeconds ?? probeTimeout
        guard (1...60).contains(timeout) else {
            throw JobFailure.permanent("timeout_seconds must be between 1 and 60, got \(timeout)")
        }
        let target: DeploymentTarget
        do {
            target = try context.database.withConnection { c in try DeploymentTarget.load(endpointId: payload.endpointId, on: c) }
        } catch let error as EndpointError {
            throw JobFailure.permanent(error.message)
        }
        let endpoint = target.endpoint
        let probe: Result<TLSProbeResult, TLSProbeError>
        do {
            probe = .success(
                try TLSProbe.probe(host: endpoint.host, port: endpoint.port, serverName: endpoint.sniName, timeout: timeout))
        } catch {
            probe = .failure(error)
        }
        let evaluation = DeploymentEvaluation.evaluate(target: target, probe: probe, now: clock())
        let jobId = job.id
        let triggeredBy = job.triggeredBy
        let record: @Sendable (Connection) throws -> Void = { c in
            try DeploymentRecorder.record(evaluation, jobId: jobId, triggeredBy: triggeredBy, on: c)
        }
        switch evaluation.outcome {
        case .validated:
            let output = try? String(
                decoding: JSONSerialization.data(withJSONObject: [
                    "endpoint": endpoint.name, "outcome": "VALIDATED",
                    "served_fingerprint": evaluation.probe?.leaf.sha256Fingerprint ?? "",
                    "protocol": evaluation.probe?.protocolVersion ?? "",
                ], options: [.sortedKeys]), as: UTF8.self)
            return JobCompletion(output: output, commit: record)
        case .unreachable where job.attempt < job.maxAttempts:
            throw JobFailure.retryable("\(endpoint.name): \(evaluation.summary) (will retry)")
        case .failed, .unreachable:
            throw JobFailure.permanent("\(endpoint.name): \(evaluation.summary)", commit: record)
        }
    }
}
