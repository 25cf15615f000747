import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres

/// REVOKE_CERT: revokes a certificate at its CA with an RFC 5280 reason and records it. TLS
/// server certificates accept only unspecified, keyCompromise, affiliationChanged, superseded
/// and cessationOfOperation; other reasons are refused before the CA is asked. The CA publishes
/// a new CRL; the certificate's status change, REVOCATION_COMPLETED audit row and the
/// CERTIFICATE_STATUS_CHANGED and CERTIFICATE_ACTION_PERFORMED events commit with the job.
/// Revoking an already revoked certificate succeeds without changing anything.
public struct RevokeCertificateHandler: JobHandler {
    public var kind: JobKind { .revokeCertificate }
    let registry: CertificateAuthorityRegistry

    /// A handler revoking through the CAs of `registry`.
    public init(registry: CertificateAuthorityRegistry) {
        self.registry = registry
    }

    public func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        var certificateId: UUID?
        do {
            let payload = try job.decodePayload(RevokeCertificatePayload.self)
            certificateId = payload.certificateId
            let (certificate, authority, isTLSServer) = try context.database.withConnection { c in
                try Self.load(payload.certificateId, on: c)
            }
            let reason = try Self.reason(payload.reason, isTLSServer: isTLSServer)
            if certificate.status == "REVOKED" {
                return JobCompletion(output: IssuanceProcess.json([
                    "status": "Already revoked", "certificateId": certificate.id.uuidString.lowercased(),
                    "revokedAt": certificate.revokedAt.map(PostgresTimestamp.format) ?? NSNull(),
                    "reason": certificate.revocationReason ?? NSNull(),
                ]))
            }
            let connector = try registry.connector(for: authority, allowDisabled: true)
            guard let pem = certificate.certificatePEM else {
                throw RequestRefusal(.invalidState, "certificate \(certificate.id.uuidString.lowercased()) has no PEM on file")
            }
            let x509 = try Certificate(pem: pem)
            let result = try connector.revoke(
                CARevocationRequest(certificate: x509, reason: reason, caRequestId: nil),
                context: CAOperationContext(database: context.database, heartbeat: { try context.heartbeat() },
                                            isCancelled: { context.isCancelled }))
            let actor = job.triggeredBy
            let jobId = job.id
            return JobCompletion(
                output: IssuanceProcess.json([
                    "status": "Revoked", "certificateId": certificate.id.uuidString.lowercased(), "reason": reason.rawValue,
                    "revokedAt": PostgresTimestamp.format(result.revokedAt),
                    "crlNumber": result.crlNumber.map { NSNumber(value: $0) } ?? NSNull(),
                ]),
                issuedCertificateId: nil, caRequestId: certificate.serialNumber,
                commit: { c in try Self.record(certificate, reason: reason, result: result, jobId: jobId, actor: actor, on: c) })
        } catch let failure as JobFailure {
            throw failure
        } catch {
            let (message, permanent) = IssuanceProcess.classify(error)
            let final = permanent || job.attempt >= job.maxAttempts
            let actor = job.triggeredBy
            let jobId = job.id
            let id = certificateId
            var commit: (@Sendable (Connection) throws -> Void)?
            if final {
                commit = { c in
                    let entity = id?.uuidString.lowercased() ?? "job:\(jobId)"
                        try Lifecycle.audit(.revocationFailed, entityType: .certificate, entityId: entity, actor: actor,
                                        details: ["error": message, "jobId": jobId], on: c)
                    try Lifecycle.actionPerformed(CertificateActionPerformedEventData(
                        certificateId: id, action: .revoke, outcome: .failure, error: message, jobId: jobId,
                        actorType: actor.kind.rawValue, actorId: actor.id), on: c)
                }
            }
            throw JobFailure(message: message, isPermanent: permanent, commit: commit)
        }
    }

    static func load(_ id: UUID, on c: Connection) throws -> (CertificateRecord, CertificateAuthorityRecord, Bool) {
        guard let certificate = try CertificateStore.find(idOrFingerprint: id.uuidString, on: c) else {
            throw RequestRefusal(.invalidRequest, "unknown certificate \(id.uuidString.lowercased())")
        }
        guard let caId = certificate.caId, let authority = try CertificateAuthorityStore.find(id: caId, on: c) else {
            throw RequestRefusal(.unavailableCA, "certificate \(id.uuidString.lowercased()) was not issued through a CA certbus knows; revoke it at its issuer")
        }
        var isTLSServer = true
        if let profileId = certificate.profileId, let profile = try RAProfileStore.find(id: profileId, on: c) {
            isTLSServer = profile.certificateType.isTLSServer
        } else if let pem = certificate.certificatePEM, let x509 = try? Certificate(pem: pem) {
            isTLSServer = x509.extendedKeyUsage.contains(.serverAuth)
        }
        return (certificate, authority, isTLSServer)
    }

    static func reason(_ name: String?, isTLSServer: Bool) throws -> RevocationPolicy.Reason {
        do {
            return try RevocationPolicy.validate(name ?? "unspecified", isTLSServer: isTLSServer)
        } catch let error as RevocationReasonError {
            throw RequestRefusal(.invalidRequest, error.description)
        }
    }

    static func record(_ certificate: CertificateRecord, reason: RevocationPolicy.Reason, result: CARevocationResult,
                       jobId: Int64, actor: Actor, on c: Connection) throws {
        let previous = try c.query(
            """
            UPDATE certbus.certificates c SET status = 'REVOKED', revoked_at = $2, revocation_reason = $3, renew_at = NULL
              FROM (SELECT id, status FROM certbus.certificates WHERE id = $1 FOR UPDATE) old
             WHERE c.id = old.id AND old.status <> 'REVOKED'
            RETURNING old.status
            """, [certificate.id, result.revokedAt, reason.rawValue]).firstRow
        guard let previous else { return }
        let oldStatus: String = try previous.decode("status")
        let id = certificate.id.uuidString.lowercased()
        let details: [String: Any] = [
            "reason": reason.rawValue, "serialNumber": certificate.serialNumber, "jobId": jobId,
            "revokedAt": PostgresTimestamp.format(result.revokedAt),
            "crlNumber": result.crlNumber.map { NSNumber(value: $0) } ?? NSNull(),
        ]
        try Lifecycle.audit(.revocationCompleted, entityType: .certificate, entityId: id, actor: actor, details: details, on: c)
        try Lifecycle.statusChanged(CertificateStatusChangedEventData(
            certificateId: certificate.id, commonName: certificate.commonName, serialNumber: certificate.serialNumber,
            fingerprintSha256: certificate.fingerprint, profileId: certificate.profileId, groupId: certificate.groupId,
            notAfter: certificate.notAfter, oldStatus: oldStatus, newStatus: "REVOKED"), on: c)
        try Lifecycle.actionPerformed(CertificateActionPerformedEventData(
            certificateId: certificate.id, action: .revoke, outcome: .success, jobId: jobId, actorType: actor.kind.rawValue,
            actorId: actor.id, profileId: certificate.profileId, groupId: certificate.groupId), on: c)
        try Lifecycle.resolveAlerts(causePrefix: RenewalAlerts.causeKey(certificate.id), resolution: "certificate revoked", on: c)
    }
}
