import CertbusCore
import CertbusHTTP
import Foundation
import PKI
import Postgres

/// Summary of a recorded discovery run.
public struct DiscoverySummary: Sendable, Equatable, Codable {
    public var runId: UUID
    public var targetsProbed: Int
    public var targetsReachable: Int
    public var certificatesFound: Int
    public var newCertificates: Int
    /// Ids of the certificates this run added to the inventory.
    public var newCertificateIds: [UUID]

    enum CodingKeys: String, CodingKey {
        case runId = "discovery_id", targetsProbed = "targets_probed", targetsReachable = "targets_reachable"
        case certificatesFound = "certificates_found", newCertificates = "new_certificates"
        case newCertificateIds = "new_certificate_ids"
    }
}

/// Writes discovery runs: the start (row RUNNING, audit DISCOVERY_STARTED) and the findings
/// (certificates recorded as DISCOVERED, CERTIFICATE_DISCOVERED per new certificate, the run
/// COMPLETED, DISCOVERY_FINISHED, audit DISCOVERY_COMPLETED) — the latter in one transaction.
public enum DiscoveryRecorder {
    /// Starts a run for `jobId`: earlier RUNNING runs of the same job (their attempt died) become
    /// ABANDONED; returns the new run's id.
    public static func start(
        jobId: Int64?, name: String, targets: [String], actor: Actor, on connection: Connection
    ) throws -> UUID {
        try connection.withTransaction { c in
            if let jobId {
                try c.execute(
                    "UPDATE certbus.discovery_runs SET status = 'ABANDONED', finished_at = now() WHERE job_id = $1 AND status = 'RUNNING'",
                    [jobId])
            }
            let id: UUID = try c.query(
                """
                INSERT INTO certbus.discovery_runs (job_id, name, targets, started_by_type, started_by_id)
                VALUES ($1, $2, $3::text[], $4, $5) RETURNING id
                """, [jobId, name, targets, actor.kind.rawValue, actor.id])[0].decode("id")
            var details: [String: Any] = ["name": name, "targets": targets]
            if let jobId { details["job_id"] = jobId }
            try AuditTrail.record(
                on: c, action: .discoveryStarted, entityType: .discovery, entityId: id.uuidString.lowercased(), actor: actor,
                details: details)
            return id
        }
    }

    /// Records the findings of run `runId` in the caller's transaction and completes the run.
    @discardableResult
    public static func finish(
        runId: UUID, name: String, findings: [DiscoveryFinding], actor: Actor, now: Date = Date(), on connection: Connection
    ) throws -> DiscoverySummary {
        var reachable = 0
        var found: Set<String> = []
        var newIds: [UUID] = []
        let run = runId.uuidString.lowercased()
        for finding in findings {
            switch finding.result {
            case .success(let probe):
                reachable += 1
                found.insert(probe.leaf.sha256Fingerprint)
                let leaf: Certificate
                do {
                    leaf = try Certificate(der: probe.leaf.der)
                } catch {
                    try insertFinding(runId, finding.target, outcome: "TLS_ERROR", probe: probe, error: "unreadable certificate: \(error)", on: connection)
                    continue
                }
                let chain = probe.chain.dropFirst().compactMap { try? Certificate(der: $0.der) }
                let (id, isNew) = try CertificateInventory.record(leaf, chain: chain, now: now, on: connection)
                try insertFinding(runId, finding.target, outcome: "CERTIFICATE", probe: probe, certificateId: id, isNew: isNew, on: connection)
                if isNew {
                    newIds.append(id)
                    try EventLog.emit(
                        on: connection,
                        CertificateDiscoveredEventData(
                            certificateId: id, discoveryId: run, fingerprintSha256: leaf.sha256Fingerprint,
                            commonName: leaf.subject.commonName, endpoint: finding.target.description, notAfter: leaf.notAfter))
                }
            case .failure(let error):
                let outcome = error.kind.isUnreachable ? "UNREACHABLE" : (error.kind == .notTLS ? "NOT_TLS" : "TLS_ERROR")
                try insertFinding(runId, finding.target, outcome: outcome, probe: nil, error: error.reason, on: connection)
            }
        }
        let summary = DiscoverySummary(
            runId: runId, targetsProbed: findings.count, targetsReachable: reachable, certificatesFound: found.count,
            newCertificates: newIds.count, newCertificateIds: newIds)
        let updated = try connection.execute(
            """
            UPDATE certbus.discovery_runs
               SET status = 'COMPLETED', finished_at = now(), targets_probed = $2, targets_reachable = $3,
                   certificates_found = $4, new_certificates = $5
             WHERE id = $1 AND status = 'RUNNING'
            """, [runId, summary.targetsProbed, reachable, found.count, newIds.count])
        guard updated == 1 else {
            throw PostgresError(kind: .server, message: "discovery run \(run) is no longer running (abandoned by a later attempt)")
        }
        try EventLog.emit(
            on: connection,
            DiscoveryFinishedEventData(
                discoveryId: run, name: name, outcome: .success, certificatesFound: found.count, newCertificates: newIds.count))
        try AuditTrail.record(
            on: connection, action: .discoveryCompleted, entityType: .discovery, entityId: run, actor: actor,
            details: [
                "targets_probed": summary.targetsProbed, "targets_reachable": reachable,
                "certificates_found": found.count, "new_certificates": newIds.count,
            ])
        return summary
    }

    private static func insertFinding(
        _ runId: UUID, _ target: HostPort, outcome: String, probe: TLSProbeResult?, certificateId: UUID? = nil,
        isNew: Bool = false, error: String? = nil, on connection: Connection
    ) throws {
        try connection.execute(
            """
            INSERT INTO certbus.discovery_findings
              (run_id, host, port, outcome, certificate_id, fingerprint_sha256, is_new, protocol, cipher, error)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
            """,
            [
                runId, target.host, target.port, outcome, certificateId, probe?.leaf.sha256Fingerprint, isNew,
                probe?.protocolVersion, probe?.cipher, error,
            ])
    }
}
