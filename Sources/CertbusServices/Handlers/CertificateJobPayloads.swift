import Foundation

/// The ISSUE_CERT payload (JSON keys in snake_case). Either `request_id` (a request made by `certbus cert request` or
/// released by an approval), or an inline request for psql and scripts: `profile` plus either
/// `csr` (PEM) or names (`common_name`, `subject_alternative_names`) for a server-generated key.
///
/// ```sql
/// SELECT certbus.enqueue_job('ISSUE_CERT', jsonb_build_object('profile', 'web', 'csr', pg_read_file('/tmp/a.csr')));
/// SELECT certbus.enqueue_job('ISSUE_CERT', '{"profile": "web", "common_name": "www.example.com"}');
/// ```
public struct IssueCertificatePayload: Codable, Sendable, Equatable {
    /// An existing request.
    public var requestId: UUID?
    /// Inline: the RA profile, by name or id.
    public var profile: String?
    /// Inline: the CSR, PEM.
    public var csr: String?
    /// Inline, without CSR: the common name.
    public var commonName: String?
    /// Inline, without CSR: the subject alternative names.
    public var subjectAlternativeNames: [String]?
    /// Inline, without CSR: the key type to generate (default: the profile's).
    public var keyAlgorithm: String?
    /// Inline: the group, by name.
    public var group: String?
    /// Inline: the idempotency key (default `job:<job id>`).
    public var idempotencyKey: String?
    /// Inline, for a CSR an agent submitted (certbus.agent_submit_csr): the only names the CSR may
    /// ask for, those of the agent's install job. Nil: the profile's domains are the only limit.
    public var allowedNames: [String]?

    enum CodingKeys: String, CodingKey {
        case requestId = "request_id", profile, csr, commonName = "common_name"
        case subjectAlternativeNames = "subject_alternative_names", keyAlgorithm = "key_algorithm", group
        case idempotencyKey = "idempotency_key", allowedNames = "allowed_names"
    }

    /// The camelCase spellings, also accepted when reading (payloads written before snake_case).
    enum LegacyKeys: String, CodingKey {
        case requestId, commonName, subjectAlternativeNames, keyAlgorithm, idempotencyKey
    }

    /// Reads the snake_case keys, falling back to their camelCase spellings.
    public init(from decoder: any Decoder) throws {
        let keys = try decoder.container(keyedBy: CodingKeys.self)
        let legacy = try decoder.container(keyedBy: LegacyKeys.self)
        requestId = try keys.decodeIfPresent(UUID.self, forKey: .requestId) ?? legacy.decodeIfPresent(UUID.self, forKey: .requestId)
        profile = try keys.decodeIfPresent(String.self, forKey: .profile)
        csr = try keys.decodeIfPresent(String.self, forKey: .csr)
        commonName = try keys.decodeIfPresent(String.self, forKey: .commonName) ?? legacy.decodeIfPresent(String.self, forKey: .commonName)
        subjectAlternativeNames = try keys.decodeIfPresent([String].self, forKey: .subjectAlternativeNames)
            ?? legacy.decodeIfPresent([String].self, forKey: .subjectAlternativeNames)
        keyAlgorithm = try keys.decodeIfPresent(String.self, forKey: .keyAlgorithm) ?? legacy.decodeIfPresent(String.self, forKey: .keyAlgorithm)
        group = try keys.decodeIfPresent(String.self, forKey: .group)
        idempotencyKey = try keys.decodeIfPresent(String.self, forKey: .idempotencyKey)
            ?? legacy.decodeIfPresent(String.self, forKey: .idempotencyKey)
        allowedNames = try keys.decodeIfPresent([String].self, forKey: .allowedNames)
    }

    /// A payload releasing an existing request.
    public init(requestId: UUID) { self.requestId = requestId }

    /// An inline payload.
    public init(profile: String, csr: String? = nil, commonName: String? = nil, subjectAlternativeNames: [String]? = nil,
                keyAlgorithm: String? = nil, group: String? = nil, idempotencyKey: String? = nil) {
        self.profile = profile
        self.csr = csr
        self.commonName = commonName
        self.subjectAlternativeNames = subjectAlternativeNames
        self.keyAlgorithm = keyAlgorithm
        self.group = group
        self.idempotencyKey = idempotencyKey
    }
}

/// The RENEW_CERT payload: the certificate to renew (same names, profile and group), whether to
/// use a new key, or the id of an approved renewal request.
public struct RenewCertificatePayload: Codable, Sendable, Equatable {
    /// The certificate to renew.
    public var certificateId: UUID?
    /// Generate a new key (certbus then holds it) instead of reusing the current one.
    public var rekey: Bool?
    /// An existing (approved) renewal request.
    public var requestId: UUID?

    enum CodingKeys: String, CodingKey {
        case certificateId = "certificate_id", rekey, requestId = "request_id"
    }

    /// Creates a payload.
    public init(certificateId: UUID? = nil, rekey: Bool? = nil, requestId: UUID? = nil) {
        self.certificateId = certificateId
        self.rekey = rekey
        self.requestId = requestId
    }
}

/// The REVOKE_CERT payload.
public struct RevokeCertificatePayload: Codable, Sendable, Equatable {
    /// The certificate to revoke.
    public var certificateId: UUID
    /// The RFC 5280 reason name (default unspecified).
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case certificateId = "certificate_id", reason
    }

    /// Creates a payload.
    public init(certificateId: UUID, reason: String? = nil) {
        self.certificateId = certificateId
        self.reason = reason
    }
}

/// The CA_REFRESH payload (the CA may also come from the job's `ca_id`).
public struct RefreshCAPayload: Codable, Sendable, Equatable {
    /// The CA to refresh.
    public var caId: UUID?

    enum CodingKeys: String, CodingKey {
        case caId = "ca_id"
    }

    /// Creates a payload.
    public init(caId: UUID?) { self.caId = caId }
}
