import CertbusCore
import CertbusHTTP
import Foundation
import Postgres

/// A finished validation, ready to be recorded.
public struct DeploymentEvaluation: Sendable {
    public var outcome: DeploymentOutcome
    public var endpoint: Endpoint
    /// SHA-256 of the expected certificate, if any.
    public var expectedFingerprint: String?
    /// The probe's result, when the endpoint answered with TLS.
    public var probe: TLSProbeResult?
    /// The comparison, when the endpoint answered with TLS.
    public var verdict: DeploymentVerdict?
    /// The probe error, when it did not.
    public var probeError: TLSProbeError?

    /// Compares a probe result (or error) with the target's expectation.
    public static func evaluate(
        target: DeploymentTarget, probe: Result<TLSProbeResult, TLSProbeError>, now: Date = Date()
    ) -> DeploymentEvaluation {
        let expected = target.expectation.certificate?.sha256Fingerprint
        switch probe {
        case .success(let result):
            let verdict = DeploymentCheck.evaluate(
                servedChain: result.chain.map(\.der), expectation: target.expectation, now: now)
            return DeploymentEvaluation(
                outcome: verdict.passed ? .validated : .failed, endpoint: target.endpoint, expectedFingerprint: expected,
                probe: result, verdict: verdict, probeError: nil)
        case .failure(let error):
            return DeploymentEvaluation(
                outcome: error.kind.isUnreachable ? .unreachable : .failed, endpoint: target.endpoint,
                expectedFingerprint: expected, probe: nil, verdict: nil, probeError: error)
        }
    }

    /// One line for job output, history and alerts.
    public var summary: String {
        switch outcome {
        case .validated:
            return "\(endpoint.address) serves the expected certificate \(expectedFingerprint?.prefix(16) ?? "")…"
        case .failed:
            if let verdict { return verdict.problems.map(\.description).joined(separator: "; ") }
            return probeError.map(\.description) ?? "validation failed"
        case .unreachable:
            return probeError.map(\.description) ?? "unreachable"
        }
    }
}

/// Records a validation in the caller's transaction: the endpoint's status moves
/// (`DeploymentStatusPlan`), a `certbus.deployment_validations` row, the audit row
/// (DEPLOYMENT_VALIDATED or DEPLOYMENT_FAILED) and the alert (raised on failure with cause
/// `deployment:<endpoint id>`, resolved on success).
public enum DeploymentRecorder {
    /// The actor of validation status changes and audit rows.
    public static let actor = Actor.system("deployment-validator")

    /// Records `evaluation` for job `jobId`; returns the statuses the endpoint moved through.
    @discardableResult
    public static func record(_ evaluation: DeploymentEvaluation, jobId: Int64?, triggeredBy: Actor?, on connection: Connection)
        throws -> [AutomationStatus]
    {
        let endpoint = evaluation.endpoint
        let current = try connection.query(
            "SELECT automation_status, kind FROM certbus.endpoints WHERE id = $1 FOR UPDATE", [endpoint.id]
        ).firstRow
        guard let current else { throw EndpointError(.notFound, "endpoint \(endpoint.name) was deleted during its validation") }
        let status = AutomationStatus(rawValue: try current.decode("automation_status")) ?? endpoint.automationStatus
        let kind = EndpointAutomationKind(rawValue: try current.decode("kind")) ?? endpoint.kind
        let moves = DeploymentStatusPlan.moves(from: status, kind: kind, outcome: evaluation.outcome)
        let message = String(evaluation.summary.prefix(1900))
        for next in moves {
            try EndpointStore.changeStatus(endpoint.id, to: next, actor: actor, message: message, jobId: jobId, on: connection)
        }
        let problems: [[String: String]] =
            evaluation.verdict?.problems.map { ["code": $0.code, "message": $0.description] }
            ?? (evaluation.outcome == .failed ? [["code": "TLS_FAILURE", "message": message]] : [])
        let validated = evaluation.outcome == .validated
        try connection.execute(
            """
            INSERT INTO certbus.deployment_validations
              (endpoint_id, job_id, outcome, address, server_name, expected_fingerprint, served_fingerprint, protocol,
               cipher, chain_checked, problems, error)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12)
            """,
            [
                endpoint.id, jobId, evaluation.outcome.rawValue, endpoint.address, endpoint.sniName,
                evaluation.expectedFingerprint, evaluation.probe?.leaf.sha256Fingerprint, evaluation.probe?.protocolVersion,
                evaluation.probe?.cipher, evaluation.verdict?.chainChecked ?? false,
                try PostgresJSON(encoding: validated ? [] : problems),
                validated ? nil : evaluation.probeError?.description,
            ])
        var details: [String: Any] = [
            "endpoint": endpoint.name, "address": endpoint.address, "outcome": evaluation.outcome.rawValue,
            "statuses": moves.map(\.rawValue),
        ]
        if let jobId { details["job_id"] = jobId }
        if let triggeredBy { details["triggered_by"] = triggeredBy.description }
        if let expected = evaluation.expectedFingerprint { details["expected_fingerprint"] = expected }
        if let probe = evaluation.probe {
            details["served_fingerprint"] = probe.leaf.sha256Fingerprint
            details["protocol"] = probe.protocolVersion
            details["cipher"] = probe.cipher
        }
        if !validated { details["problems"] = problems.map { $0["message"] ?? "" } + (evaluation.probeError.map { [$0.description] } ?? []) }
        try AuditTrail.record(
            on: connection, action: validated ? .deploymentValidated : .deploymentFailed, entityType: .endpoint,
            entityId: endpoint.id.uuidString.lowercased(), actor: actor, details: details)
        let cause = "deployment:\(endpoint.id.uuidString.lowercased())"
        if validated {
            try Alerts.resolve(on: connection, causeKeyPrefix: cause, resolution: "deployment validated")
        } else {
            let title = evaluation.outcome == .unreachable
                ? "Endpoint \(endpoint.name) unreachable for deployment validation"
                : "Deployment validation failed on \(endpoint.name)"
            try Alerts.raise(
                on: connection, type: .error, severity: .error, title: title, message: message, entity: .endpoint,
                entityId: endpoint.id.uuidString.lowercased(), causeKey: cause)
        }
        return moves
    }
}
