import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres

/// A request ready to go to its CA, as resolved by the ISSUE_CERT or RENEW_CERT handler.
struct PreparedRequest: Sendable {
    /// The request row (already written, so a crash after the CA answers finds it again).
    var request: CertificateRequestRecord
    /// Its profile (current version).
    var profile: RAProfile
    /// Its CA (current version).
    var authority: CertificateAuthorityRecord
    /// Whether this job made the request (then its INITIATED audit rows are written with the outcome).
    var createdByJob: Bool
    /// For renewals: the certificate renewed.
    var predecessor: CertificateRecord?
    /// For renewals: whether a new key was generated.
    var rekey: Bool
}

/// The part of issuance and renewal after the request is resolved: the approval gate, the
/// server-generated key, the CA call, and the completing or failing database effects.
struct IssuanceProcess: Sendable {
    let registry: CertificateAuthorityRegistry

    /// Runs a prepared request to its completion (or to a pending approval).
    func run(_ prepared: PreparedRequest, job: Job, context: JobContext) throws -> JobCompletion {
        var prepared = prepared
        let request = prepared.request
        switch request.status {
        case .issued:
            return JobCompletion(
                output: Self.json(["status": "Certificate issued", "requestId": request.id.uuidString.lowercased(),
                                   "certificateId": request.certificateId?.uuidString.lowercased() ?? NSNull()]),
                issuedCertificateId: request.certificateId, caRequestId: request.caRequestId)
        case .denied:
            throw JobFailure.permanent("Approval denied" + (request.error.map { ": \($0)" } ?? ""))
        case .expired:
            throw JobFailure.permanent("Approval expired: nobody approved request \(request.id.uuidString.lowercased()) in time")
        case .failed:
            throw JobFailure.permanent(request.error ?? "the request failed earlier")
        case .pendingApproval, .queued, .submitted:
            break
        }

        if prepared.profile.requiresApproval, let pending = try approvalGate(prepared, job: job, context: context) {
            return pending
        }

        if request.generatedKeyType != nil && request.csrPEM == nil {
            prepared.request = try generateKey(for: request, context: context)
        }
        if prepared.request.status != .submitted || prepared.request.jobId != job.id {
            try context.database.withConnection { c in
                try c.withRelaxedCommit { c in
                    try c.execute(
                        "UPDATE certbus.certificate_requests SET status = 'SUBMITTED', job_id = $2 WHERE id = $1 AND status IN ('QUEUED', 'PENDING_APPROVAL', 'SUBMITTED')",
                        [request.id, job.id])
                }
            }
            prepared.request.status = .submitted
        }

        let issued = try askCA(prepared, context: context)
        return completion(prepared, issued: issued, job: job)
    }

    /// Refuses, before anything is written, a CA that cannot issue: disabled, or of a kind no
    /// connector serves.
    func checkIssuing(_ authority: CertificateAuthorityRecord) throws {
        guard authority.status == .active else {
            throw RequestRefusal(.unavailableCA, "CA \(authority.name) is disabled; enable it or move the profile to another CA")
        }
        guard registry.knows(kind: authority.kind) else {
            throw RequestRefusal(.unavailableCA, "CA \(authority.name) is of kind \(authority.kind), which no connector serves (known: \(registry.kinds.joined(separator: ", ")))")
        }
    }

    // MARK: - Approval

    /// nil when approved (the binding matches); a completion that leaves the job waiting-free
    /// ("Approval pending") otherwise; throws for denied, expired or mismatched approvals.
    private func approvalGate(_ prepared: PreparedRequest, job: Job, context: JobContext) throws -> JobCompletion? {
        let request = prepared.request
        let approval = try context.database.withConnection { c in
            try c.query(
                "SELECT id, status, binding_sha256 FROM certbus.approvals WHERE request_id = $1 ORDER BY created_at DESC LIMIT 1",
                [request.id]).firstRow
        }
        let requestId = request.id.uuidString.lowercased()
        if let approval {
            let id: UUID = try approval.decode("id")
            let status = ApprovalStatus(rawValue: try approval.decode("status")) ?? .expired
            switch status {
            case .approved:
                let bound: String = try approval.decode("binding_sha256")
                guard bound == request.bindingSHA256, bound == request.computedBindingSHA256 else {
                    throw JobFailure.permanent(
                        "approval \(id.uuidString.lowercased()) was given for different request parameters; it cannot release request \(requestId)",
                        commit: failureEffects(prepared, message: "approval does not match the request", job: job, final: true))
                }
                return nil
            case .denied:
                throw JobFailure.permanent("Approval denied")
            case .expired:
                throw JobFailure.permanent("Approval expired: nobody approved request \(requestId) in time")
            case .pending:
                return JobCompletion(output: Self.json(["status": "Approval pending", "requestId": requestId,
                                                        "approvalId": id.uuidString.lowercased()]))
            }
        }
        let approvalId = UUID()
        let summary = Self.summary(prepared)
        let lifetime = prepared.profile.approvalLifetimeSeconds
        let createdByJob = prepared.createdByJob
        let actor = job.triggeredBy
        return JobCompletion(
            output: Self.json(["status": "Approval pending", "requestId": requestId, "approvalId": approvalId.uuidString.lowercased()]),
            commit: { c in
                try Approvals.open(id: approvalId, request: request, summary: summary, lifetime: lifetime, actor: actor, on: c)
                if createdByJob { try Self.auditInitiated(request, actor: actor, on: c) }
            })
    }

    static func summary(_ prepared: PreparedRequest) -> String {
        let request = prepared.request
        let key = request.generatedKeyType.map { "certbus-generated \($0.rawValue) key" } ?? "requester's key (CSR)"
        let what = request.operation == .renew ? "renew certificate \(request.predecessorId?.uuidString.lowercased() ?? "")" : "issue"
        return "\(what) for \(request.subjectAlternativeNames.joined(separator: ", ")) under profile \(prepared.profile.name) (CA \(prepared.authority.name), \(request.validityDays) days, \(key))"
    }

    // MARK: - Key generation

    /// Generates the key, seals it under the KEK (bound to the request id) and stores it with its
    /// CSR — once: a concurrent or earlier attempt's key wins.
    private func generateKey(for request: CertificateRequestRecord, context: JobContext) throws -> CertificateRequestRecord {
        guard let type = request.generatedKeyType else { return request }
        let kek = try registry.environment.keyEncryptionKey()
        let key = try PrivateKey.generate(type.algorithm)
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: request.commonName),
            subjectAlternativeNames: request.subjectAlternativeNames.map(SubjectAlternativeName.dnsNameOrIPAddress))
        let sealed = try kek.seal(try key.pkcs8DER(), purpose: CertificateKeys.purpose, id: request.id)
        return try context.database.withConnection { c in
            _ = try c.withRelaxedCommit { c in
                try c.execute(
                    "UPDATE certbus.certificate_requests SET csr_pem = $2, encrypted_private_key = $3 WHERE id = $1 AND csr_pem IS NULL",
                    [request.id, csr.pem, sealed])
            }
            guard let stored = try CertificateRequestStore.find(id: request.id, on: c) else {
                throw JobFailure.retryable("request \(request.id.uuidString.lowercased()) vanished")
            }
            return stored
        }
    }

    // MARK: - CA

    private func askCA(_ prepared: PreparedRequest, context: JobContext) throws -> CAIssuedCertificate {
        let request = prepared.request
        guard let csrPEM = request.csrPEM else {
            throw RequestRefusal(.invalidRequest, "request \(request.id.uuidString.lowercased()) has no CSR")
        }
        let csr = try RequestPolicy.parseCSR(csrPEM)
        let connector = try registry.connector(for: prepared.authority)
        let caRequest = CAIssueRequest(
            idempotencyKey: request.id.uuidString.lowercased(), csr: csr,
            subject: DistinguishedName(commonName: request.commonName),
            subjectAlternativeNames: request.subjectAlternativeNames.map(SubjectAlternativeName.dnsNameOrIPAddress),
            validityDays: request.validityDays, certificateType: prepared.profile.certificateType,
            previousCARequestId: request.caRequestId)
        let database = context.database
        let operation = CAOperationContext(
            database: context.database,
            recordCARequestId: { id in
                try database.withConnection { c in
                    _ = try c.execute("UPDATE certbus.certificate_requests SET ca_request_id = $2 WHERE id = $1", [request.id, id])
                }
            },
            heartbeat: { try context.heartbeat() }, isCancelled: { context.isCancelled })
        return try connector.issue(caRequest, context: operation)
    }

    // MARK: - Completion

    func completion(_ prepared: PreparedRequest, issued: CAIssuedCertificate, job: Job) -> JobCompletion {
        let certificateId = UUID()
        let request = prepared.request
        let certificate = issued.certificate
        let renewAt = prepared.profile.renewalWindow.renewalTime(
            for: certificateId, notBefore: certificate.notBefore, notAfter: certificate.notAfter)
        let output = Self.json([
            "status": "Certificate issued", "certificateId": certificateId.uuidString.lowercased(),
            "requestId": request.id.uuidString.lowercased(), "serialNumber": certificate.serialNumberHex,
            "fingerprint": certificate.sha256Fingerprint, "notAfter": PostgresTimestamp.format(certificate.notAfter),
        ])
        let actor = job.triggeredBy
        let createdByJob = prepared.createdByJob
        let rekey = prepared.rekey
        let jobId = job.id
        return JobCompletion(
            output: output, issuedCertificateId: certificateId, caRequestId: issued.caRequestId,
            commit: { c in
                try Self.record(issued, id: certificateId, request: request, renewAt: renewAt, on: c)
                try Self.recordSuccess(request, certificateId: certificateId, certificate: certificate,
                                       caRequestId: issued.caRequestId, rekey: rekey, jobId: jobId, actor: actor,
                                       initiated: createdByJob, on: c)
            })
    }

    /// Inserts the certificate row and marks the request ISSUED, in one statement.
    static func record(_ issued: CAIssuedCertificate, id: UUID, request: CertificateRequestRecord, renewAt: Date,
                       on c: Connection) throws {
        let certificate = issued.certificate
        let algorithm = certificate.publicKeyAlgorithm
        try c.execute(
            """
            WITH inserted AS (
              INSERT INTO certbus.certificates
                     (id, ca_id, profile_id, group_id, serial_number, fingerprint_sha256, common_name, subject, issuer,
                      subject_alternative_names, key_algorithm, key_size, not_before, not_after, certificate_pem, chain_pem,
                      encrypted_private_key, predecessor_id, renew_at, source, request_id)
              SELECT $1, r.ca_id, r.profile_id, r.group_id, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11, $12, $13,
                     r.encrypted_private_key, r.predecessor_id, $14, 'ISSUED', r.id
                FROM certbus.certificate_requests r WHERE r.id = $15
              RETURNING request_id
            )
            UPDATE certbus.certificate_requests r SET status = 'ISSUED', certificate_id = $1, ca_request_id = $16, error = NULL,
                   encrypted_private_key = NULL, completed_at = now()
              FROM inserted WHERE r.id = inserted.request_id
            """,
            [id, certificate.serialNumberHex, certificate.sha256Fingerprint, certificate.subject.commonName,
             certificate.subject.description, certificate.issuer.description,
             certificate.subjectAlternativeNames.map(Self.sanText), algorithm?.profileName ?? "UNKNOWN", algorithm?.bits,
             certificate.notBefore, certificate.notAfter, certificate.pem, issued.chain.map(\.pem).joined(), renewAt,
             request.id, issued.caRequestId])
    }

    static func recordSuccess(
        _ request: CertificateRequestRecord, certificateId: UUID, certificate: Certificate, caRequestId: String,
        rekey: Bool, jobId: Int64, actor: Actor, initiated: Bool = false, on c: Connection
    ) throws {
        let idText = certificateId.uuidString.lowercased()
        var details: [String: Any] = [
            "requestId": request.id.uuidString.lowercased(), "jobId": jobId, "serialNumber": certificate.serialNumberHex,
            "fingerprint": certificate.sha256Fingerprint, "names": request.subjectAlternativeNames,
            "notAfter": PostgresTimestamp.format(certificate.notAfter), "caRequestId": caRequestId,
        ]
        var audit = AuditBatch()
        if initiated { try addInitiated(request, actor: actor, to: &audit) }
        if let predecessor = request.predecessorId {
            let previous = predecessor.uuidString.lowercased()
            details["predecessorId"] = previous
            details["rekey"] = rekey
            try c.execute(
                "UPDATE certbus.certificates SET renew_at = NULL, renewal_failures = 0, renewal_last_error = NULL WHERE id = $1",
                [predecessor])
            try Lifecycle.resolveAlerts(causePrefix: RenewalAlerts.causeKey(predecessor), resolution: "renewed by \(idText)", on: c)
            try audit.add(.renewalCompleted, .certificate, idText, actor, details)
        } else {
            try audit.add(.issuanceCompleted, .certificate, idText, actor, details)
        }
        try audit.write(on: c)
        let action: CertificateAction = request.operation == .issue ? .issue : (rekey ? .rekey : .renew)
        try Lifecycle.actionPerformed(CertificateActionPerformedEventData(
            certificateId: certificateId, action: action, outcome: .success, jobId: jobId, actorType: actor.kind.rawValue,
            actorId: actor.id, profileId: request.profileId, groupId: request.groupId, predecessorId: request.predecessorId,
            requestId: request.id.uuidString.lowercased()), on: c)
    }

    /// ISSUANCE_INITIATED / RENEWAL_INITIATED and CSR_SUBMITTED or CSR_GENERATED for a request
    /// made inside a job.
    static func auditInitiated(_ request: CertificateRequestRecord, actor: Actor, on c: Connection) throws {
        var audit = AuditBatch()
        try addInitiated(request, actor: actor, to: &audit)
        try audit.write(on: c)
    }

    static func addInitiated(_ request: CertificateRequestRecord, actor: Actor, to audit: inout AuditBatch) throws {
        let id = request.id.uuidString.lowercased()
        let details: [String: Any] = [
            "profileId": request.profileId.uuidString.lowercased(), "names": request.subjectAlternativeNames,
            "predecessorId": request.predecessorId?.uuidString.lowercased() ?? NSNull(),
            "keySource": request.generatedKeyType == nil ? "CSR" : "GENERATED",
        ]
        try audit.add(request.operation == .renew ? .renewalInitiated : .issuanceInitiated, .certificateRequest, id, actor, details)
        try audit.add(request.generatedKeyType == nil ? .csrSubmitted : .csrGenerated, .csr, id, actor, details)
    }

    // MARK: - Failure

    /// Converts any error of an attempt into a JobFailure whose commit records the failure when
    /// it is final (permanent, or the last attempt).
    func failure(_ error: Error, prepared: PreparedRequest?, job: Job, renewing certificate: CertificateRecord? = nil) -> JobFailure {
        if let failure = error as? JobFailure { return failure }
        let (message, permanent) = Self.classify(error)
        let final = permanent || job.attempt >= job.maxAttempts
        let commit: (@Sendable (Connection) throws -> Void)?
        if let prepared {
            commit = failureEffects(prepared, message: message, job: job, final: final,
                                    countsAsRenewalFailure: Self.countsAsRenewalFailure(error))
        } else if final {
            let actor = job.triggeredBy
            let jobId = job.id
            let renewing = certificate
            let countsForRenewal = Self.countsAsRenewalFailure(error)
            commit = { c in
                try Self.recordFailure(requestId: nil, operation: renewing == nil ? .issue : .renew, message: message,
                                       jobId: jobId, actor: actor, predecessorId: renewing?.id, profileId: renewing?.profileId,
                                       groupId: renewing?.groupId, on: c)
                if let renewing, countsForRenewal {
                    try RenewalAlerts.recordFailure(certificate: renewing, message: message, on: c)
                }
            }
        } else {
            commit = nil
        }
        return JobFailure(message: message, isPermanent: permanent, commit: commit)
    }

    func failureEffects(_ prepared: PreparedRequest, message: String, job: Job, final: Bool,
                        countsAsRenewalFailure: Bool = true) -> (@Sendable (Connection) throws -> Void)? {
        guard final else { return nil }
        let request = prepared.request
        let actor = job.triggeredBy
        let jobId = job.id
        let createdByJob = prepared.createdByJob
        let predecessor = prepared.predecessor
        let rekey = prepared.rekey
        return { c in
            try c.execute(
                """
                UPDATE certbus.certificate_requests SET status = 'FAILED', error = $2, encrypted_private_key = NULL, completed_at = now()
                 WHERE id = $1 AND status IN ('QUEUED', 'PENDING_APPROVAL', 'SUBMITTED')
                """, [request.id, message])
            if createdByJob { try Self.auditInitiated(request, actor: actor, on: c) }
            try Self.recordFailure(requestId: request.id, operation: request.operation, message: message, jobId: jobId,
                                   actor: actor, predecessorId: request.predecessorId, profileId: request.profileId,
                                   groupId: request.groupId, rekey: rekey, on: c)
            if let predecessor, countsAsRenewalFailure {
                try RenewalAlerts.recordFailure(certificate: predecessor, message: message, on: c)
            }
        }
    }

    static func recordFailure(requestId: UUID?, operation: CertificateRequestRecord.Operation, message: String, jobId: Int64,
                              actor: Actor, predecessorId: UUID? = nil, profileId: UUID? = nil, groupId: UUID? = nil,
                              rekey: Bool = false, on c: Connection) throws {
        let entity = requestId?.uuidString.lowercased() ?? "job:\(jobId)"
        try Lifecycle.audit(operation == .renew ? .renewalFailed : .issuanceFailed, entityType: .certificateRequest,
                            entityId: entity, actor: actor,
                            details: ["error": message, "jobId": jobId,
                                      "predecessorId": predecessorId?.uuidString.lowercased() ?? NSNull()], on: c)
        try Lifecycle.actionPerformed(CertificateActionPerformedEventData(
            certificateId: nil, action: operation == .issue ? .issue : (rekey ? .rekey : .renew), outcome: .failure,
            error: message, jobId: jobId, actorType: actor.kind.rawValue, actorId: actor.id, profileId: profileId,
            groupId: groupId, predecessorId: predecessorId, requestId: entity), on: c)
    }

    /// The message and permanence of an error.
    static func classify(_ error: Error) -> (String, Bool) {
        switch error {
        case let refusal as RequestRefusal: return (refusal.message, true)
        case let ca as CAConnectorError: return (ca.description, ca.isPermanent)
        case let kek as KeyEncryptionKeyError: return (kek.description, true)
        case let pki as PKIError: return (pki.description, pki.kind != .internalFailure)
        case let failure as JobFailure: return (failure.message, failure.isPermanent)
        default: return (String(describing: error), false)
        }
    }

    /// Whether an error is a renewal failure worth a backoff and an alert (not "already renewed").
    static func countsAsRenewalFailure(_ error: Error) -> Bool {
        if let refusal = error as? RequestRefusal, refusal.code == .invalidState { return false }
        return true
    }

    // MARK: - Helpers

    static func sanText(_ san: SubjectAlternativeName) -> String {
        switch san {
        case .dnsName(let name): name
        case .ipAddress(let address): address.description
        default: san.description
        }
    }

    static func json(_ object: [String: Any]) -> String {
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

extension AuditEntityType {
    /// A certificate request (issuance or renewal), by request id.
    static let certificateRequest: AuditEntityType = "CertificateRequest"
}

/// How server-generated certificate keys are sealed under the key-encryption key.
public enum CertificateKeys {
    /// The ``KeyEncryptionKey`` purpose of server-generated certificate keys; the sealed key is
    /// bound to the id of the certificate request that generated it.
    public static let purpose = "certificate-private-key"
}
