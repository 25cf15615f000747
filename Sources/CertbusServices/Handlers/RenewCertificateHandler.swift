import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres

/// RENEW_CERT: a new certificate for the same names, profile and group as an existing one,
/// linked to it as its successor (`predecessor_id`). Without rekey it reuses the key: the
/// server-held key (re-sealed for the new request) or the requester's original CSR. With rekey
/// certbus generates a new key of the same type. A renewal that finally fails pushes the old
/// certificate's `renew_at` forward with backoff and raises one ERROR alert, instead of looping.
public struct RenewCertificateHandler: JobHandler {
    public var kind: JobKind { .renewCertificate }
    let process: IssuanceProcess

    /// A handler renewing through the CAs of `registry`.
    public init(registry: CertificateAuthorityRegistry) {
        process = IssuanceProcess(registry: registry)
    }

    public func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        var prepared: PreparedRequest?
        var renewing: CertificateRecord?
        do {
            let payload = try job.decodePayload(RenewCertificatePayload.self)
            prepared = try context.database.withConnection { c in
                try resolve(payload, job: job, on: c, renewing: &renewing)
            }
            return try process.run(prepared!, job: job, context: context)
        } catch {
            throw process.failure(error, prepared: prepared, job: job, renewing: renewing)
        }
    }

    func resolve(_ payload: RenewCertificatePayload, job: Job, on c: Connection, renewing: inout CertificateRecord?) throws -> PreparedRequest {
        if let requestId = payload.requestId {
            guard let request = try CertificateRequestStore.find(id: requestId, on: c), request.operation == .renew,
                  let predecessorId = request.predecessorId else {
                throw RequestRefusal(.invalidRequest, "unknown renewal request \(requestId.uuidString.lowercased())")
            }
            let (profile, authority) = try IssueCertificateHandler.loadPolicy(profileId: request.profileId, caId: request.caId, on: c)
            renewing = try CertificateStore.find(idOrFingerprint: predecessorId.uuidString, on: c)
            if !request.status.isFinal { try IssueCertificateHandler.recheck(request, profile: profile) }
            return PreparedRequest(request: request, profile: profile, authority: authority, createdByJob: false,
                                   predecessor: renewing, rekey: request.generatedKeyType != nil)
        }
        guard let certificateId = payload.certificateId ?? job.certificateId else {
            throw RequestRefusal(.invalidRequest, "the RENEW_CERT payload needs certificateId")
        }
        guard let certificate = try CertificateStore.find(idOrFingerprint: certificateId.uuidString, on: c) else {
            throw RequestRefusal(.invalidRequest, "unknown certificate \(certificateId.uuidString.lowercased())")
        }
        renewing = certificate
        let key = "job:\(job.id)"
        if let existing = try CertificateRequestStore.find(idempotencyKey: key, on: c) {
            let (profile, authority) = try IssueCertificateHandler.loadPolicy(profileId: existing.profileId, caId: existing.caId, on: c)
            return PreparedRequest(request: existing, profile: profile, authority: authority, createdByJob: true,
                                   predecessor: certificate, rekey: payload.rekey ?? false)
        }
        let idText = certificate.id.uuidString.lowercased()
        guard certificate.status != "REVOKED" else {
            throw RequestRefusal(.invalidState, "certificate \(idText) is revoked; request a new certificate instead of renewing it")
        }
        if let successor = certificate.successorId {
            throw RequestRefusal(.invalidState, "certificate \(idText) was already renewed by \(successor.uuidString.lowercased()); renew that one instead")
        }
        guard let profileId = certificate.profileId else {
            throw RequestRefusal(.invalidState, "certificate \(idText) has no RA profile (imported or discovered); request a new certificate under a profile")
        }
        let (profile, authority) = try IssueCertificateHandler.loadPolicy(profileId: profileId, caId: try profileCA(profileId, on: c), on: c)
        try process.checkIssuing(authority)

        let rekey = payload.rekey ?? false
        var checked: CheckedRequest
        var csrPEM: String?
        var sealedKey: Data?
        let newId = UUID()
        let previous = certificate.requestId.flatMap { try? CertificateRequestStore.find(id: $0, on: c) }
        if rekey {
            let type = try Self.rekeyType(certificate, profile: profile)
            checked = try RequestPolicy.check(commonName: certificate.commonName, names: certificate.subjectAlternativeNames,
                                              keyType: type.rawValue, profile: profile)
        } else if let sealed = try Self.serverKey(of: certificate, on: c) {
            let kek = try process.registry.environment.keyEncryptionKey()
            guard let requestId = certificate.requestId else {
                throw RequestRefusal(.invalidState, "the server-held key of \(idText) has no request record")
            }
            let key = try PrivateKey(der: try kek.open(sealed, purpose: CertificateKeys.purpose, id: requestId))
            checked = try RequestPolicy.checkNames(commonName: certificate.commonName, names: certificate.subjectAlternativeNames, profile: profile)
            try RequestPolicy.checkKey(key.algorithm, profile: profile)
            guard let type = GeneratedKeyType.matching(key.algorithm) else {
                throw RequestRefusal(.keyTypeNotAllowed, "the key of \(idText) (\(key.algorithm)) cannot be reused; renew with rekey")
            }
            checked.generatedKeyType = type
            let csr = try CertificateSigningRequest.create(key: key, subject: checked.subject,
                                                           subjectAlternativeNames: checked.subjectAlternativeNames)
            csrPEM = csr.pem
            sealedKey = try kek.seal(try key.pkcs8DER(), purpose: CertificateKeys.purpose, id: newId)
        } else if let pem = previous?.csrPEM, previous?.generatedKeyType == nil {
            let csr = try RequestPolicy.parseCSR(pem)
            try RequestPolicy.checkKey(csr.publicKeyAlgorithm, profile: profile)
            checked = try RequestPolicy.checkNames(commonName: certificate.commonName, names: certificate.subjectAlternativeNames, profile: profile)
            checked.csr = csr
            csrPEM = pem
        } else {
            throw RequestRefusal(.invalidState, "certbus holds neither the key nor the CSR of \(idText); renew with rekey (certbus then generates and keeps a new key)")
        }

        var new = NewCertificateRequest(
            idempotencyKey: key, operation: .renew, status: profile.requiresApproval ? .queued : .submitted, profile: profile,
            groupId: certificate.groupId, predecessorId: certificate.id, checked: checked, csrPEM: csrPEM,
            requestedBy: job.triggeredBy, jobId: job.id)
        new.id = newId
        var (request, created) = try c.withRelaxedCommit { c -> (CertificateRequestRecord, Bool) in
            let inserted = try CertificateRequestStore.insert(new, on: c)
            if inserted.created, let sealedKey {
                try c.execute("UPDATE certbus.certificate_requests SET encrypted_private_key = $2 WHERE id = $1", [inserted.record.id, sealedKey])
            }
            return inserted
        }
        if created, let sealedKey { request.encryptedPrivateKey = sealedKey }
        return PreparedRequest(request: request, profile: profile, authority: authority, createdByJob: true,
                               predecessor: certificate, rekey: rekey)
    }

    private func profileCA(_ profileId: UUID, on c: Connection) throws -> UUID {
        guard let row = try c.query("SELECT ca_id FROM certbus.ra_profiles WHERE id = $1", [profileId]).firstRow else {
            throw RequestRefusal(.unknownProfile, "the certificate's RA profile \(profileId.uuidString.lowercased()) no longer exists")
        }
        return try row.decode("ca_id")
    }

    /// The sealed server-held key of a certificate, if certbus holds one.
    static func serverKey(of certificate: CertificateRecord, on c: Connection) throws -> Data? {
        guard certificate.hasServerKey else { return nil }
        return try c.query("SELECT encrypted_private_key FROM certbus.certificates WHERE id = $1", [certificate.id])
            .firstRow?.decode("encrypted_private_key", as: Data?.self)
    }

    /// The key type for a rekey: the old key's type when the profile allows it, else the profile's default.
    static func rekeyType(_ certificate: CertificateRecord, profile: RAProfile) throws -> GeneratedKeyType {
        let previous: GeneratedKeyType? = switch certificate.keyAlgorithm {
        case "EC-P256": .ecP256
        case "EC-P384": .ecP384
        case "ED25519": .ed25519
        case "RSA": GeneratedKeyType(rawValue: "RSA-\(certificate.keySize ?? 2048)")
        default: nil
        }
        if let previous, (try? RequestPolicy.checkKey(previous.algorithm, profile: profile)) != nil { return previous }
        guard let fallback = GeneratedKeyType(rawValue: profile.defaultKeyAlgorithm) else {
            throw RequestRefusal(.keyTypeNotAllowed, "profile \(profile.name) has an unknown default key type \(profile.defaultKeyAlgorithm)")
        }
        return fallback
    }
}

extension GeneratedKeyType {
    /// The generated-key type of an existing key, when it is one certbus generates.
    static func matching(_ algorithm: KeyAlgorithm) -> GeneratedKeyType? {
        allCases.first { $0.algorithm == algorithm }
    }
}
