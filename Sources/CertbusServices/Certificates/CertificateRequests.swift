import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres

/// What `certbus cert request` asks for.
public struct CertificateRequestDraft: Sendable {
    /// The RA profile, by name or id.
    public var profile: String
    /// The CSR, PEM (the requester keeps its key); nil for a server-generated key.
    public var csrPEM: String?
    /// Without CSR: the common name.
    public var commonName: String?
    /// Without CSR: more names.
    public var subjectAlternativeNames: [String] = []
    /// Without CSR: the key type (default: the profile's).
    public var keyAlgorithm: String?
    /// The group, by name.
    public var group: String?
    /// A caller-chosen idempotency key: submitting it again returns the first request.
    public var idempotencyKey: String?

    /// A draft for `profile`.
    public init(profile: String) {
        self.profile = profile
    }
}

/// A submitted request and what happens next.
public struct SubmittedRequest: Sendable {
    /// The request row.
    public var request: CertificateRequestRecord
    /// The ISSUE_CERT job, when one was enqueued (nil while waiting for approval).
    public var jobId: Int64?
    /// The approval it waits for, when the profile requires one.
    public var approvalId: UUID?
    /// Whether this call created it (false: the idempotency key was seen before).
    public var created: Bool
}

/// Certificate requests made by operators: checked at once (bad input is refused before
/// anything is written), then queued for ISSUE_CERT or held for approval.
public enum CertificateRequests {
    /// Checks `draft` against its profile and, in one transaction, writes the request with
    /// ISSUANCE_INITIATED and CSR_SUBMITTED audit rows and either enqueues ISSUE_CERT or opens
    /// an approval (APPROVAL_REQUESTED). Throws ``RequestRefusal`` without writing anything
    /// for a bad CSR, a weak or disallowed key, names outside the profile, or an unusable CA.
    public static func submit(_ draft: CertificateRequestDraft, actor: Actor, registry: CertificateAuthorityRegistry,
                              on connection: Connection) throws -> SubmittedRequest {
        try connection.withTransaction { c in
            if let key = draft.idempotencyKey, let existing = try CertificateRequestStore.find(idempotencyKey: key, on: c) {
                let approval = try c.query("SELECT id FROM certbus.approvals WHERE request_id = $1 ORDER BY created_at DESC LIMIT 1", [existing.id])
                    .firstRow?.decode("id", as: UUID.self)
                return SubmittedRequest(request: existing, jobId: existing.jobId, approvalId: approval, created: false)
            }
            guard let profile = try RAProfileStore.find(nameOrId: draft.profile, on: c) else {
                throw RequestRefusal(.unknownProfile, "unknown RA profile \"\(draft.profile)\" (see certbus profile list)")
            }
            let authority = try IssueCertificateHandler.checkUsable(profile: profile, on: c)
            try IssuanceProcess(registry: registry).checkIssuing(authority)
            var payload = IssueCertificatePayload(profile: profile.name, csr: draft.csrPEM, commonName: draft.commonName,
                                                  subjectAlternativeNames: draft.subjectAlternativeNames.isEmpty ? nil : draft.subjectAlternativeNames,
                                                  keyAlgorithm: draft.keyAlgorithm, group: draft.group)
            if draft.csrPEM != nil, draft.commonName == nil, draft.subjectAlternativeNames.isEmpty, draft.keyAlgorithm == nil {
                payload.commonName = nil
            }
            let checked = try IssueCertificateHandler.check(payload, profile: profile)
            var groupId: UUID?
            if let group = draft.group {
                guard let row = try c.query("SELECT id FROM certbus.certificate_groups WHERE name = $1", [group]).firstRow else {
                    throw RequestRefusal(.invalidRequest, "unknown certificate group \"\(group)\"")
                }
                groupId = try row.decode("id")
            }
            let id = UUID()
            let new = NewCertificateRequest(
                id: id, idempotencyKey: draft.idempotencyKey ?? "request:\(id.uuidString.lowercased())", operation: .issue,
                status: .queued, profile: profile, groupId: groupId, predecessorId: nil, checked: checked,
                csrPEM: checked.csr?.pem, requestedBy: actor, jobId: nil)
            var (request, _) = try CertificateRequestStore.insert(new, on: c)
            try IssuanceProcess.auditInitiated(request, actor: actor, on: c)
            if profile.requiresApproval {
                let approvalId = UUID()
                let prepared = PreparedRequest(request: request, profile: profile, authority: authority, createdByJob: false,
                                               predecessor: nil, rekey: false)
                try Approvals.open(id: approvalId, request: request, summary: IssuanceProcess.summary(prepared),
                                   lifetime: profile.approvalLifetimeSeconds, actor: actor, on: c)
                request.status = .pendingApproval
                return SubmittedRequest(request: request, jobId: nil, approvalId: approvalId, created: true)
            }
            let jobId = try JobQueue.enqueue(on: c, try NewJob(
                kind: .issueCertificate, payload: IssueCertificatePayload(requestId: request.id),
                name: "Issue \(checked.names.joined(separator: ", "))", uniqueKey: "request:\(request.id.uuidString.lowercased())",
                triggeredBy: actor, caId: profile.caId))
            try c.execute("UPDATE certbus.certificate_requests SET job_id = $2 WHERE id = $1", [request.id, jobId])
            request.jobId = jobId
            return SubmittedRequest(request: request, jobId: jobId, approvalId: nil, created: true)
        }
    }

    /// Enqueues a renewal of `certificate` (by id or fingerprint), one in flight per certificate.
    public static func renew(_ certificate: String, rekey: Bool, actor: Actor, on connection: Connection) throws -> Int64 {
        guard let record = try CertificateStore.find(idOrFingerprint: certificate, on: connection) else {
            throw RequestRefusal(.invalidRequest, "unknown certificate \(certificate) (give its id or SHA-256 fingerprint)")
        }
        guard record.status != "REVOKED" else {
            throw RequestRefusal(.invalidState, "certificate \(record.id.uuidString.lowercased()) is revoked; request a new certificate instead")
        }
        let name = record.commonName ?? record.subjectAlternativeNames.first ?? record.id.uuidString.lowercased()
        do {
            return try JobQueue.enqueue(on: connection, try NewJob(
                kind: .renewCertificate, payload: RenewCertificatePayload(certificateId: record.id, rekey: rekey),
                name: "\(rekey ? "Rekey" : "Renew") \(name)", uniqueKey: RenewalScheduler.uniqueKey(record.id),
                triggeredBy: actor, caId: record.caId, certificateId: record.id))
        } catch let error as JobQueueError where error.reason == .duplicate {
            throw RequestRefusal(.invalidState, "a renewal of \(record.id.uuidString.lowercased()) is already queued or running")
        }
    }

    /// Enqueues a revocation of `certificate` with `reason`, checked at once against the
    /// certificate's revocation policy. An already revoked certificate is refused (no job, no
    /// audit row); the REVOKE_CERT job itself stays idempotent for retries.
    public static func revoke(_ certificate: String, reason: String, actor: Actor, on connection: Connection) throws -> Int64 {
        guard let record = try CertificateStore.find(idOrFingerprint: certificate, on: connection) else {
            throw RequestRefusal(.invalidRequest, "unknown certificate \(certificate) (give its id or SHA-256 fingerprint)")
        }
        guard record.status != "REVOKED" else {
            throw RequestRefusal(
                .invalidState,
                "certificate \(record.id.uuidString.lowercased()) is already revoked (\(record.revocationReason ?? "unspecified")\(record.revokedAt.map { ", at \(PostgresTimestamp.format($0))" } ?? ""))")
        }
        let (_, _, isTLSServer) = try RevokeCertificateHandler.load(record.id, on: connection)
        let checked = try RevokeCertificateHandler.reason(reason, isTLSServer: isTLSServer)
        let name = record.commonName ?? record.id.uuidString.lowercased()
        do {
            return try JobQueue.enqueue(on: connection, try NewJob(
                kind: .revokeCertificate, payload: RevokeCertificatePayload(certificateId: record.id, reason: checked.rawValue),
                name: "Revoke \(name) (\(checked.rawValue))", uniqueKey: "revoke:\(record.id.uuidString.lowercased())",
                triggeredBy: actor, caId: record.caId, certificateId: record.id))
        } catch let error as JobQueueError where error.reason == .duplicate {
            throw RequestRefusal(.invalidState, "a revocation of \(record.id.uuidString.lowercased()) is already queued or running")
        }
    }
}
