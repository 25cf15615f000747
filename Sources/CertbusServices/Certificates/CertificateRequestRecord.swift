import CertbusCore
import Foundation
import PKI
import Postgres

/// One row of `certbus.certificate_requests`.
public struct CertificateRequestRecord: Sendable, Equatable {
    /// ISSUE or RENEW.
    public enum Operation: String, Sendable, Codable {
        case issue = "ISSUE"
        case renew = "RENEW"
    }

    /// Request id (also the CA idempotency key).
    public var id: UUID
    /// Caller's idempotency key.
    public var idempotencyKey: String
    /// ISSUE or RENEW.
    public var operation: Operation
    /// Where the request is.
    public var status: CertificateRequestStatus
    /// The RA profile.
    public var profileId: UUID
    /// The CA asked.
    public var caId: UUID
    /// Group of the certificate.
    public var groupId: UUID?
    /// For renewals: the certificate renewed.
    public var predecessorId: UUID?
    /// The key type certbus generates (nil: the requester's CSR).
    public var generatedKeyType: GeneratedKeyType?
    /// The CSR, PEM (for generated keys: once made).
    public var csrPEM: String?
    /// The sealed generated key, until issued.
    public var encryptedPrivateKey: Data?
    /// Requested common name.
    public var commonName: String?
    /// Requested names.
    public var subjectAlternativeNames: [String]
    /// Requested lifetime.
    public var validityDays: Int
    /// SHA-256 of the canonical parameters.
    public var bindingSHA256: String
    /// Who asked.
    public var requestedBy: Actor
    /// The job processing it.
    public var jobId: Int64?
    /// The CA's request id.
    public var caRequestId: String?
    /// The issued certificate.
    public var certificateId: UUID?
    /// Why it failed.
    public var error: String?
    /// When it was made.
    public var createdAt: Date

    /// The columns ``init(row:)`` expects (table alias `r`).
    public static let columns = """
        r.id, r.idempotency_key, r.operation, r.status, r.profile_id, r.ca_id, r.group_id, r.predecessor_id,
        r.generated_key_algorithm, r.csr_pem, r.encrypted_private_key, r.common_name, r.subject_alternative_names,
        r.validity_days, r.binding_sha256, r.requested_by_type, r.requested_by_id, r.job_id, r.ca_request_id,
        r.certificate_id, r.error, r.created_at
        """

    /// Decodes a row selected with ``columns``.
    public init(row: Row) throws {
        id = try row.decode("id")
        idempotencyKey = try row.decode("idempotency_key")
        operation = Operation(rawValue: try row.decode("operation")) ?? .issue
        status = CertificateRequestStatus(rawValue: try row.decode("status")) ?? .failed
        profileId = try row.decode("profile_id")
        caId = try row.decode("ca_id")
        groupId = try row.decode("group_id")
        predecessorId = try row.decode("predecessor_id")
        generatedKeyType = try row.decode("generated_key_algorithm", as: String?.self).flatMap(GeneratedKeyType.init(rawValue:))
        csrPEM = try row.decode("csr_pem")
        encryptedPrivateKey = try row.decode("encrypted_private_key")
        commonName = try row.decode("common_name")
        subjectAlternativeNames = try row.decode("subject_alternative_names")
        validityDays = try row.decode("validity_days")
        bindingSHA256 = try row.decode("binding_sha256")
        requestedBy = Actor(Actor.Kind(rawValue: try row.decode("requested_by_type")) ?? .system, try row.decode("requested_by_id"))
        jobId = try row.decode("job_id")
        caRequestId = try row.decode("ca_request_id")
        certificateId = try row.decode("certificate_id")
        error = try row.decode("error")
        createdAt = try row.decode("created_at")
    }

    /// The approval binding of this request's parameters.
    public var binding: ApprovalBinding {
        ApprovalBinding(
            operation: operation.rawValue, profileId: profileId, caId: caId,
            csrSHA256: generatedKeyType == nil ? csrPEM.flatMap { try? CertificateSigningRequest(pem: $0) }.map { SHA256.hexDigest($0.der) } : nil,
            generatedKeyAlgorithm: generatedKeyType?.rawValue, commonName: commonName,
            subjectAlternativeNames: subjectAlternativeNames, validityDays: validityDays, predecessorId: predecessorId)
    }

    /// SHA-256 (hex) of the binding's canonical text.
    public var computedBindingSHA256: String { SHA256.hexDigest(binding.hashInput) }
}

/// The parameters of a new request row.
struct NewCertificateRequest: Sendable {
    var id = UUID()
    var idempotencyKey: String
    var operation: CertificateRequestRecord.Operation
    var status: CertificateRequestStatus
    var profile: RAProfile
    var groupId: UUID?
    var predecessorId: UUID?
    var checked: CheckedRequest
    var csrPEM: String?
    var requestedBy: Actor
    var jobId: Int64?

    /// The binding of these parameters (as ``CertificateRequestRecord/binding`` will compute it).
    var binding: ApprovalBinding {
        ApprovalBinding(
            operation: operation.rawValue, profileId: profile.id, caId: profile.caId,
            csrSHA256: checked.generatedKeyType == nil ? checked.csr.map { SHA256.hexDigest($0.der) } : nil,
            generatedKeyAlgorithm: checked.generatedKeyType?.rawValue, commonName: checked.commonName,
            subjectAlternativeNames: checked.names, validityDays: profile.validityDays, predecessorId: predecessorId)
    }
}

/// Reads and writes certificate request rows.
public enum CertificateRequestStore {
    /// The request with this id, or nil.
    public static func find(id: UUID, on connection: Connection) throws -> CertificateRequestRecord? {
        try connection.query("SELECT \(CertificateRequestRecord.columns) FROM certbus.certificate_requests r WHERE r.id = $1", [id])
            .firstRow.map(CertificateRequestRecord.init(row:))
    }

    /// The request with this idempotency key, or nil.
    public static func find(idempotencyKey: String, on connection: Connection) throws -> CertificateRequestRecord? {
        try connection.query("SELECT \(CertificateRequestRecord.columns) FROM certbus.certificate_requests r WHERE r.idempotency_key = $1", [idempotencyKey])
            .firstRow.map(CertificateRequestRecord.init(row:))
    }

    /// Inserts a request unless its idempotency key exists; returns the stored row either way
    /// and whether it was created now.
    static func insert(_ new: NewCertificateRequest, on connection: Connection) throws -> (record: CertificateRequestRecord, created: Bool) {
        let inserted = try connection.query(
            """
            INSERT INTO certbus.certificate_requests AS r
                   (id, idempotency_key, operation, status, profile_id, ca_id, group_id, predecessor_id, key_source,
                    generated_key_algorithm, csr_pem, common_name, subject_alternative_names, validity_days, binding_sha256,
                    requested_by_type, requested_by_id, job_id)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::text[], $14, $15, $16, $17, $18)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING \(CertificateRequestRecord.columns)
            """,
            [new.id, new.idempotencyKey, new.operation.rawValue, new.status.rawValue, new.profile.id, new.profile.caId,
             new.groupId, new.predecessorId, new.checked.generatedKeyType == nil ? "CSR" : "GENERATED",
             new.checked.generatedKeyType?.rawValue, new.csrPEM, new.checked.commonName, new.checked.names,
             new.profile.validityDays, SHA256.hexDigest(new.binding.hashInput), new.requestedBy.kind.rawValue,
             new.requestedBy.id, new.jobId])
        if let row = inserted.firstRow { return (try CertificateRequestRecord(row: row), true) }
        guard let existing = try find(idempotencyKey: new.idempotencyKey, on: connection) else {
            throw RequestRefusal(.invalidRequest, "request \(new.idempotencyKey) vanished while being created")
        }
        return (existing, false)
    }

    /// Inserts many requests with one statement; returns the rows created now, by idempotency
    /// key (keys that existed already are left out, their rows untouched).
    static func insertBatch(_ requests: [NewCertificateRequest], on connection: Connection) throws -> [String: CertificateRequestRecord] {
        guard !requests.isEmpty else { return [:] }
        let rows = try connection.query(
            """
            INSERT INTO certbus.certificate_requests AS r
                   (id, idempotency_key, operation, status, profile_id, ca_id, group_id, predecessor_id, key_source,
                    generated_key_algorithm, csr_pem, common_name, subject_alternative_names, validity_days, binding_sha256,
                    requested_by_type, requested_by_id, job_id)
            SELECT t.id, t.key, t.operation, t.status, t.profile, t.ca, t.grp, t.predecessor, t.source, t.generated, t.csr, t.cn,
                   ARRAY(SELECT jsonb_array_elements_text(t.sans)), t.days, t.binding, t.actor_type, t.actor_id, t.job
              FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::uuid[], $7::uuid[], $8::uuid[], $9::text[],
                          $10::text[], $11::text[], $12::text[], $13::jsonb[], $14::int[], $15::text[], $16::text[], $17::text[], $18::bigint[])
                   WITH ORDINALITY AS t(id, key, operation, status, profile, ca, grp, predecessor, source, generated, csr, cn, sans, days,
                                        binding, actor_type, actor_id, job, n)
             ORDER BY t.n
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING \(CertificateRequestRecord.columns)
            """,
            [requests.map(\.id), requests.map(\.idempotencyKey), requests.map(\.operation.rawValue), requests.map(\.status.rawValue),
             requests.map(\.profile.id), requests.map(\.profile.caId), requests.map(\.groupId), requests.map(\.predecessorId),
             requests.map { $0.checked.generatedKeyType == nil ? "CSR" : "GENERATED" }, requests.map { $0.checked.generatedKeyType?.rawValue },
             requests.map(\.csrPEM), requests.map(\.checked.commonName), try requests.map { try PostgresJSON(encoding: $0.checked.names) },
             requests.map(\.profile.validityDays), requests.map { SHA256.hexDigest($0.binding.hashInput) },
             requests.map(\.requestedBy.kind.rawValue), requests.map(\.requestedBy.id), requests.map(\.jobId)])
        var created: [String: CertificateRequestRecord] = [:]
        for row in rows {
            let record = try CertificateRequestRecord(row: row)
            created[record.idempotencyKey] = record
        }
        return created
    }
}
