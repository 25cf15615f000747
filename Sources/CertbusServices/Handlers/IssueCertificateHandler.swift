import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres

/// ISSUE_CERT: issues a certificate from a CSR (the requester keeps its key) or for a key
/// certbus generates and keeps sealed. The request is checked against its RA profile (CSR
/// signature, key type and strength, names against the allowed domains), written as a request
/// row before the CA is asked (so a crash after the CA's answer fetches the same certificate
/// again instead of issuing a second one), and the certificate, the request's outcome, audit rows
/// and the CERTIFICATE_ACTION_PERFORMED event commit with the job's SUCCESS. Refusals fail the
/// job at once (no retry) and record ISSUANCE_FAILED; unreachable CAs are retried.
///
/// It is a ``BatchJobHandler``: a `Worker` hands it up to `maximumBatchSize` claimed jobs at once,
/// and ``IssueBatch`` issues those that fit its fast path (inline CSR, built-in CA, no approval, a
/// first attempt) with one transaction for the lot, deferring the others to `run`.
public struct IssueCertificateHandler: BatchJobHandler {
    public var kind: JobKind { .issueCertificate }
    /// The most ISSUE_CERT jobs issued together (1 issues them one by one).
    public var maximumBatchSize: Int
    let process: IssuanceProcess

    /// A handler issuing through the CAs of `registry`, up to `maximumBatchSize` jobs at once.
    public init(registry: CertificateAuthorityRegistry, maximumBatchSize: Int = 100) {
        process = IssuanceProcess(registry: registry)
        self.maximumBatchSize = maximumBatchSize
    }

    public func runBatch(_ jobs: [ClaimedJob], context: JobBatchContext) throws -> JobBatchOutcome {
        try IssueBatch(registry: process.registry, backoff: context.backoff).run(jobs, context: context)
    }

    public func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        var prepared: PreparedRequest?
        do {
            let payload = try job.decodePayload(IssueCertificatePayload.self)
            prepared = try context.database.withConnection { c in try resolve(payload, job: job, on: c) }
            return try process.run(prepared!, job: job, context: context)
        } catch {
            throw process.failure(error, prepared: prepared, job: job)
        }
    }

    /// Loads the request named by the payload, or checks and writes the inline request.
    func resolve(_ payload: IssueCertificatePayload, job: Job, on c: Connection) throws -> PreparedRequest {
        if let requestId = payload.requestId {
            guard let request = try CertificateRequestStore.find(id: requestId, on: c) else {
                throw RequestRefusal(.invalidRequest, "unknown certificate request \(requestId.uuidString.lowercased())")
            }
            let (profile, authority) = try Self.loadPolicy(profileId: request.profileId, caId: request.caId, on: c)
            if !request.status.isFinal {
                try Self.recheck(request, profile: profile)
            }
            return PreparedRequest(request: request, profile: profile, authority: authority, createdByJob: false,
                                   predecessor: nil, rekey: false)
        }
        let key = payload.idempotencyKey ?? "job:\(job.id)"
        // A first attempt without a caller's key cannot have written its request yet.
        if payload.idempotencyKey != nil || job.attempt > 1, let existing = try CertificateRequestStore.find(idempotencyKey: key, on: c) {
            let (profile, authority) = try Self.loadPolicy(profileId: existing.profileId, caId: existing.caId, on: c)
            return PreparedRequest(request: existing, profile: profile, authority: authority,
                                   createdByJob: existing.jobId == job.id, predecessor: nil, rekey: false)
        }
        guard let profileName = payload.profile else {
            throw RequestRefusal(.invalidRequest, "the ISSUE_CERT payload needs requestId, or profile with csr or names")
        }
        guard let profile = try RAProfileStore.find(nameOrId: profileName, on: c) else {
            throw RequestRefusal(.unknownProfile, "unknown RA profile \"\(profileName)\" (see certbus profile list)")
        }
        guard profile.enabled else { throw RequestRefusal(.unknownProfile, "RA profile \(profile.name) is disabled") }
        guard let authority = try CertificateAuthorityStore.find(id: profile.caId, on: c) else {
            throw RequestRefusal(.unavailableCA, "unknown CA \(profile.caId.uuidString.lowercased())")
        }
        try process.checkIssuing(authority)
        let checked = try Self.check(payload, profile: profile)
        var groupId: UUID?
        if let group = payload.group {
            guard let row = try c.query("SELECT id FROM certbus.certificate_groups WHERE name = $1", [group]).firstRow else {
                throw RequestRefusal(.invalidRequest, "unknown certificate group \"\(group)\"")
            }
            groupId = try row.decode("id")
        }
        let new = NewCertificateRequest(
            idempotencyKey: key, operation: .issue, status: profile.requiresApproval ? .queued : .submitted, profile: profile,
            groupId: groupId, predecessorId: nil, checked: checked, csrPEM: checked.csr?.pem, requestedBy: job.triggeredBy,
            jobId: job.id)
        let (request, _) = try c.withRelaxedCommit { try CertificateRequestStore.insert(new, on: $0) }
        return PreparedRequest(request: request, profile: profile, authority: authority, createdByJob: request.jobId == job.id,
                               predecessor: nil, rekey: false)
    }

    /// Checks an inline payload against the profile (and its `allowedNames`, when it has them).
    static func check(_ payload: IssueCertificatePayload, profile: RAProfile) throws -> CheckedRequest {
        let checked: CheckedRequest
        if let pem = payload.csr {
            guard payload.commonName == nil, payload.subjectAlternativeNames == nil, payload.keyAlgorithm == nil else {
                throw RequestRefusal(.invalidRequest, "give either a CSR or names (commonName, subjectAlternativeNames), not both")
            }
            checked = try RequestPolicy.check(csr: try RequestPolicy.parseCSR(pem), profile: profile)
        } else {
            checked = try RequestPolicy.check(commonName: payload.commonName, names: payload.subjectAlternativeNames ?? [],
                                              keyType: payload.keyAlgorithm, profile: profile)
        }
        try checkAllowedNames(checked, payload: payload)
        return checked
    }

    /// Refuses names outside the payload's `allowedNames` (an agent's CSR may name only its install job's names).
    static func checkAllowedNames(_ checked: CheckedRequest, payload: IssueCertificatePayload) throws {
        guard let allowed = payload.allowedNames else { return }
        let permitted = Set(allowed.map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        let outside = checked.names.filter { !permitted.contains($0) }
        guard outside.isEmpty else {
            throw RequestRefusal(
                .nameNotAllowed,
                "\(outside.joined(separator: ", ")) \(outside.count == 1 ? "is" : "are") not among the names of the agent's install job (allowed: \(allowed.isEmpty ? "none" : allowed.joined(separator: ", ")))")
        }
    }

    /// Re-checks a stored request against the profile as it is now (it may have been narrowed).
    static func recheck(_ request: CertificateRequestRecord, profile: RAProfile) throws {
        if request.generatedKeyType == nil, let pem = request.csrPEM {
            _ = try RequestPolicy.check(csr: try RequestPolicy.parseCSR(pem), profile: profile)
        } else if let type = request.generatedKeyType {
            try RequestPolicy.checkKey(type.algorithm, profile: profile)
        }
        _ = try RequestPolicy.checkNames(commonName: request.commonName, names: request.subjectAlternativeNames, profile: profile)
    }

    /// The profile and CA of a stored request, refusing a disabled profile or an unusable CA.
    static func loadPolicy(profileId: UUID, caId: UUID, on c: Connection) throws -> (RAProfile, CertificateAuthorityRecord) {
        guard let profile = try RAProfileStore.find(id: profileId, on: c) else {
            throw RequestRefusal(.unknownProfile, "the request's RA profile \(profileId.uuidString.lowercased()) no longer exists")
        }
        guard profile.enabled else {
            throw RequestRefusal(.unknownProfile, "RA profile \(profile.name) is disabled")
        }
        guard let authority = try CertificateAuthorityStore.find(id: caId, on: c) else {
            throw RequestRefusal(.unavailableCA, "unknown CA \(caId.uuidString.lowercased())")
        }
        return (profile, authority)
    }

    /// The profile's CA, refusing a disabled profile or a missing CA.
    static func checkUsable(profile: RAProfile, on c: Connection) throws -> CertificateAuthorityRecord {
        try loadPolicy(profileId: profile.id, caId: profile.caId, on: c).1
    }
}
