import CertbusCore
import Foundation
import PKI
import Postgres

/// One RA profile: the policy a certificate request is checked against.
public struct RAProfile: Sendable, Equatable, Codable {
    /// Profile id.
    public var id: UUID
    /// Unique name.
    public var name: String
    /// The CA issuing its certificates.
    public var caId: UUID
    /// That CA's name.
    public var caName: String
    /// Lifetime of issued certificates in days.
    public var validityDays: Int
    /// Accepted key types: EC-P256, EC-P384, RSA, ED25519.
    public var allowedKeyAlgorithms: [String]
    /// Smallest RSA modulus accepted.
    public var minimumRSABits: Int
    /// Allowed domain patterns (empty: any name).
    public var allowedDomains: [String]
    /// Whether issuance waits for an approval.
    public var requiresApproval: Bool
    /// Whether the scheduler renews its certificates automatically.
    public var autoRenew: Bool
    /// Fixed renewal lead time before expiry in seconds; nil = two thirds of the lifetime.
    public var renewBeforeSeconds: Double?
    /// Expiry alert ladder in days.
    public var expiryAlertDays: [Int]
    /// Disabled profiles refuse requests.
    public var enabled: Bool
    /// What the certificates are for.
    public var certificateType: CertificateType
    /// How long an approval may stay pending, in seconds.
    public var approvalLifetimeSeconds: Double
    /// Key type generated for requests without a CSR.
    public var defaultKeyAlgorithm: String
    /// When the profile was created.
    public var createdAt: Date

    /// The renewal window of this profile's certificates.
    public var renewalWindow: RenewalWindow { RenewalWindow(renewBefore: renewBeforeSeconds) }

    /// The columns ``init(row:)`` expects: `SELECT \(columns) FROM certbus.ra_profiles p JOIN certbus.certificate_authorities a ON a.id = p.ca_id`.
    public static let columns = """
        p.id, p.name, p.ca_id, a.name AS ca_name, p.validity_days, p.allowed_key_algorithms, p.minimum_rsa_bits,
        p.allowed_domains, p.requires_approval, p.auto_renew, extract(epoch FROM p.renew_before)::float8 AS renew_before_seconds,
        p.expiry_alert_days, p.enabled, p.certificate_type, extract(epoch FROM p.approval_lifetime)::float8 AS approval_lifetime_seconds,
        p.default_key_algorithm, p.created_at
        """

    /// A profile from its fields (tests and tools; certbus reads profiles with ``RAProfileStore``).
    public init(
        id: UUID, name: String, caId: UUID, caName: String, validityDays: Int, allowedKeyAlgorithms: [String],
        minimumRSABits: Int, allowedDomains: [String], requiresApproval: Bool, autoRenew: Bool, renewBeforeSeconds: Double?,
        expiryAlertDays: [Int], enabled: Bool, certificateType: CertificateType, approvalLifetimeSeconds: Double,
        defaultKeyAlgorithm: String, createdAt: Date
    ) {
        self.id = id
        self.name = name
        self.caId = caId
        self.caName = caName
        self.validityDays = validityDays
        self.allowedKeyAlgorithms = allowedKeyAlgorithms
        self.minimumRSABits = minimumRSABits
        self.allowedDomains = allowedDomains
        self.requiresApproval = requiresApproval
        self.autoRenew = autoRenew
        self.renewBeforeSeconds = renewBeforeSeconds
        self.expiryAlertDays = expiryAlertDays
        self.enabled = enabled
        self.certificateType = certificateType
        self.approvalLifetimeSeconds = approvalLifetimeSeconds
        self.defaultKeyAlgorithm = defaultKeyAlgorithm
        self.createdAt = createdAt
    }

    /// Decodes a row selected with ``columns``.
    public init(row: Row) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        caId = try row.decode("ca_id")
        caName = try row.decode("ca_name")
        validityDays = try row.decode("validity_days")
        allowedKeyAlgorithms = try row.decode("allowed_key_algorithms")
        minimumRSABits = try row.decode("minimum_rsa_bits")
        allowedDomains = try row.decode("allowed_domains")
        requiresApproval = try row.decode("requires_approval")
        autoRenew = try row.decode("auto_renew")
        renewBeforeSeconds = try row.decode("renew_before_seconds")
        expiryAlertDays = try row.decode("expiry_alert_days")
        enabled = try row.decode("enabled")
        certificateType = CertificateType(rawValue: try row.decode("certificate_type")) ?? .tlsServer
        approvalLifetimeSeconds = try row.decode("approval_lifetime_seconds")
        defaultKeyAlgorithm = try row.decode("default_key_algorithm")
        createdAt = try row.decode("created_at")
    }
}

/// What `certbus profile create` asks for.
public struct RAProfileDraft: Sendable {
    /// Unique name.
    public var name: String
    /// The CA, by name or id.
    public var ca: String
    /// Lifetime in days (default 90).
    public var validityDays: Int = 90
    /// Accepted key types (default all four).
    public var allowedKeyAlgorithms: [String] = ["EC-P256", "EC-P384", "RSA", "ED25519"]
    /// Smallest RSA modulus (default 2048, never less).
    public var minimumRSABits: Int = 2048
    /// Allowed domain patterns (default: any).
    public var allowedDomains: [String] = []
    /// Whether requests wait for approval.
    public var requiresApproval = false
    /// Whether certificates renew automatically.
    public var autoRenew = true
    /// Renewal lead time in seconds, or nil for two thirds of the lifetime.
    public var renewBeforeSeconds: Double?
    /// Expiry alert ladder in days.
    public var expiryAlertDays: [Int] = [30, 14, 7, 1]
    /// What the certificates are for.
    public var certificateType: CertificateType = .tlsServer
    /// How long approvals stay pending, in seconds (default 7 days).
    public var approvalLifetimeSeconds: Double = 7 * 86400
    /// Key type generated for requests without a CSR.
    public var defaultKeyAlgorithm = "EC-P256"
    /// The built-in template the draft started from, if any: creation then also refuses settings
    /// that leave the template and a CA that cannot issue its certificates.
    public var template: ProfileTemplate?

    /// A draft with defaults for everything but the name and CA.
    public init(name: String, ca: String) {
        self.name = name
        self.ca = ca
    }
}

/// A profile request or lookup that cannot be served; nothing changed.
public struct RAProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}

/// Reads and creates RA profiles.
public enum RAProfileStore {
    static let from = "certbus.ra_profiles p JOIN certbus.certificate_authorities a ON a.id = p.ca_id"

    /// The profile with this name or id, or nil.
    public static func find(nameOrId: String, on connection: Connection) throws -> RAProfile? {
        if let id = UUID(uuidString: nameOrId) { return try find(id: id, on: connection) }
        return try connection.query("SELECT \(RAProfile.columns) FROM \(from) WHERE p.name = $1", [nameOrId])
            .firstRow.map(RAProfile.init(row:))
    }

    /// The profile with this id, or nil.
    public static func find(id: UUID, on connection: Connection) throws -> RAProfile? {
        try connection.query("SELECT \(RAProfile.columns) FROM \(from) WHERE p.id = $1", [id])
            .firstRow.map(RAProfile.init(row:))
    }

    /// Every profile, by name.
    public static func list(on connection: Connection) throws -> [RAProfile] {
        try connection.query("SELECT \(RAProfile.columns) FROM \(from) ORDER BY p.name").map(RAProfile.init(row:))
    }

    /// Validates `draft` and creates the profile with a PROFILE_CREATED audit row, in one
    /// transaction. Throws ``RAProfileError`` (and changes nothing) for an unknown CA, a taken
    /// name, bad domain patterns, unknown key types or a lifetime beyond the type's limit.
    public static func create(_ draft: RAProfileDraft, actor: Actor, on connection: Connection) throws -> RAProfile {
        func refuse(_ message: String) -> RAProfileError { RAProfileError(message: message) }
        guard draft.name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", options: .regularExpression) != nil else {
            throw refuse("invalid profile name \"\(draft.name)\": use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        let maximumDays = draft.certificateType.isTLSServer
            ? min(draft.certificateType.maximumValidityDays, TLSValidityLimit.maximumDays(notBefore: Date()))
            : draft.certificateType.maximumValidityDays
        guard (1...maximumDays).contains(draft.validityDays) else {
            throw refuse("validity of \(draft.validityDays) days is not allowed for \(draft.certificateType.rawValue) certificates issued now (1 to \(maximumDays) days; CA/Browser Forum BR 6.3.2)")
        }
        let known = ["EC-P256", "EC-P384", "RSA", "ED25519"]
        let algorithms = draft.allowedKeyAlgorithms.map { $0.uppercased() }
        guard !algorithms.isEmpty, algorithms.allSatisfy(known.contains) else {
            throw refuse("allowed key algorithms must be among \(known.joined(separator: ", ")), got \(draft.allowedKeyAlgorithms.joined(separator: ", "))")
        }
        guard draft.minimumRSABits >= 2048, draft.minimumRSABits <= 8192 else {
            throw refuse("the minimum RSA key size must be between 2048 and 8192 bits")
        }
        do {
            _ = try DomainPolicy.parse(draft.allowedDomains)
        } catch let error as DomainPatternError {
            throw refuse(error.description)
        }
        if let renewBefore = draft.renewBeforeSeconds, renewBefore <= 0 || renewBefore >= Double(draft.validityDays) * 86400 {
            throw refuse("renew-before must be positive and shorter than the \(draft.validityDays)-day lifetime")
        }
        guard draft.expiryAlertDays.allSatisfy({ $0 > 0 }) else { throw refuse("expiry alert days must be positive") }
        guard GeneratedKeyType(rawValue: draft.defaultKeyAlgorithm.uppercased()) != nil else {
            throw refuse("unknown default key algorithm \(draft.defaultKeyAlgorithm) (use \(GeneratedKeyType.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        guard draft.approvalLifetimeSeconds >= 60 else { throw refuse("approvals must live at least one minute") }
        if let problem = draft.template?.problem(with: draft) { throw refuse(problem) }

        return try connection.withTransaction { c in
            guard let ca = try CertificateAuthorityStore.find(nameOrId: draft.ca, on: c) else {
                throw refuse("unknown CA \"\(draft.ca)\" (see certbus ca list)")
            }
            if let template = draft.template {
                let settings = (try? ca.configuration(as: CAConfiguration.self)) ?? CAConfiguration()
                if let problem = template.problem(withCA: ca.name, kind: ca.kind, configuration: settings) { throw refuse(problem) }
            }
            guard try c.query("SELECT 1 FROM certbus.ra_profiles WHERE name = $1", [draft.name]).isEmpty else {
                throw refuse("a profile named \"\(draft.name)\" already exists")
            }
            let id: UUID = try c.query(
                """
                INSERT INTO certbus.ra_profiles
                       (name, ca_id, validity_days, allowed_key_algorithms, minimum_rsa_bits, allowed_domains, requires_approval,
                        auto_renew, renew_before, expiry_alert_days, certificate_type, approval_lifetime, default_key_algorithm)
                VALUES ($1, $2, $3, $4::text[], $5, $6::text[], $7, $8, make_interval(secs => $9::float8), $10::int[], $11,
                        make_interval(secs => $12::float8), $13)
                RETURNING id
                """,
                [draft.name, ca.id, draft.validityDays, algorithms, draft.minimumRSABits,
                 draft.allowedDomains.map { $0.lowercased() }, draft.requiresApproval, draft.autoRenew, draft.renewBeforeSeconds,
                 draft.expiryAlertDays, draft.certificateType.rawValue, draft.approvalLifetimeSeconds,
                 draft.defaultKeyAlgorithm.uppercased()]
            ).firstRow!.decode("id")
            try Lifecycle.audit(
                .profileCreated, entityType: .profile, entityId: id.uuidString.lowercased(), actor: actor,
                details: ["name": draft.name, "ca": ca.name, "validityDays": draft.validityDays,
                          "allowedDomains": draft.allowedDomains, "requiresApproval": draft.requiresApproval,
                          "autoRenew": draft.autoRenew, "certificateType": draft.certificateType.rawValue,
                          "template": draft.template?.name ?? NSNull()],
                on: c)
            return try find(id: id, on: c)!
        }
    }
}
