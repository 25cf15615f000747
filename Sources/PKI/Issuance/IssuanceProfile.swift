import Foundation

/// How a certificate is shaped when certbus issues it: role, lifetime, key usages, pointers to
/// revocation information. Presets follow the CA/B Forum Baseline Requirements (BR) TLS profiles.
public struct IssuanceProfile: Sendable, Hashable {
    /// Whether the certificate is for a subscriber or for a CA.
    public enum Role: Sendable, Hashable {
        /// A subscriber (leaf) certificate: basicConstraints cA FALSE.
        case endEntity
        /// A CA certificate: basicConstraints cA TRUE, critical, with an optional pathLenConstraint.
        case certificateAuthority(pathLength: Int?)
    }

    /// Subscriber or CA.
    public var role: Role
    /// Validity period in seconds, counted inclusively as the BR do (notAfter = notBefore + validity − 1 s).
    public var validity: TimeInterval
    /// How far before the issuance time notBefore is set, for clock skew (at most 48 hours).
    public var backdate: TimeInterval
    /// The keyUsage bits; nil derives them from the role and the subject key (see ``defaultKeyUsage(for:)``).
    public var keyUsage: KeyUsage?
    /// The extendedKeyUsage purposes; empty leaves the extension out.
    public var extendedKeyUsage: [ExtendedKeyUsage]
    /// Whether a subscriber certificate must carry at least one SAN (always true for TLS servers).
    public var requiresSubjectAlternativeName: Bool
    /// certificatePolicies OIDs (dotted decimal); empty leaves the extension out.
    public var certificatePolicies: [String]
    /// A URL for the cRLDistributionPoints extension.
    public var crlDistributionPointURL: String?
    /// An OCSP responder URL for the authorityInfoAccess extension.
    public var ocspURL: String?
    /// A caIssuers URL (where the issuer certificate can be fetched) for authorityInfoAccess.
    public var caIssuersURL: String?
    /// The signature digest; nil uses the issuing key's default (SHA-256 for P-256/RSA, SHA-384 for P-384).
    public var signatureDigest: SignatureDigest?

    /// Creates a profile; prefer the presets and adjust their fields.
    public init(
        role: Role, validity: TimeInterval, backdate: TimeInterval = 0, keyUsage: KeyUsage? = nil,
        extendedKeyUsage: [ExtendedKeyUsage] = [], requiresSubjectAlternativeName: Bool = false,
        certificatePolicies: [String] = [], crlDistributionPointURL: String? = nil, ocspURL: String? = nil,
        caIssuersURL: String? = nil, signatureDigest: SignatureDigest? = nil
    ) {
        self.role = role
        self.validity = validity
        self.backdate = backdate
        self.keyUsage = keyUsage
        self.extendedKeyUsage = extendedKeyUsage
        self.requiresSubjectAlternativeName = requiresSubjectAlternativeName
        self.certificatePolicies = certificatePolicies
        self.crlDistributionPointURL = crlDistributionPointURL
        self.ocspURL = ocspURL
        self.caIssuersURL = caIssuersURL
        self.signatureDigest = signatureDigest
    }

    /// The CA/B Forum reserved policy OID for domain-validated TLS certificates.
    public static let domainValidatedPolicy = "2.23.140.1.2.1"

    /// anyPolicy (RFC 5280 §4.2.1.4): in a subordinate CA certificate, the CA may issue under
    /// any policy (BR 7.1.2.10.5 allows it for a subordinate CA operated by the root's owner).
    public static let anyPolicy = "2.5.29.32.0"

    /// A TLS server certificate (BR subscriber profile): EKU serverAuth, SAN required, DV policy.
    public static func tlsServer(validityDays: Int = 90) -> IssuanceProfile {
        IssuanceProfile(role: .endEntity, validity: days(validityDays), extendedKeyUsage: [.serverAuth],
                        requiresSubjectAlternativeName: true, certificatePolicies: [domainValidatedPolicy])
    }

    /// A TLS certificate usable by servers and clients: EKU serverAuth + clientAuth, SAN required.
    public static func tlsServerAndClient(validityDays: Int = 90) -> IssuanceProfile {
        var profile = tlsServer(validityDays: validityDays)
        profile.extendedKeyUsage = [.serverAuth, .clientAuth]
        return profile
    }

    /// A TLS client certificate: EKU clientAuth; SANs optional.
    public static func tlsClient(validityDays: Int = 365) -> IssuanceProfile {
        IssuanceProfile(role: .endEntity, validity: days(validityDays), extendedKeyUsage: [.clientAuth])
    }

    /// A root CA: cA TRUE (critical), keyCertSign + cRLSign + digitalSignature, no EKU (BR 7.1.2.1).
    /// The BR do not recommend a pathLenConstraint in a root; pass nil (the default) to leave it out.
    public static func rootCA(validityDays: Int = 3650, pathLength: Int? = nil) -> IssuanceProfile {
        IssuanceProfile(role: .certificateAuthority(pathLength: pathLength), validity: days(validityDays))
    }

    /// A TLS subordinate CA: cA TRUE with pathLenConstraint (default 0: it may only issue leaves),
    /// EKU serverAuth + clientAuth, certificatePolicies anyPolicy (BR 7.1.2.6, 7.1.2.10.5). The
    /// issuing CA's CRL and caIssuers URLs, which the BR require, are set by the caller.
    public static func intermediateCA(validityDays: Int = 1825, pathLength: Int? = 0) -> IssuanceProfile {
        IssuanceProfile(role: .certificateAuthority(pathLength: pathLength), validity: days(validityDays),
                        extendedKeyUsage: [.serverAuth, .clientAuth], certificatePolicies: [anyPolicy])
    }

    /// The keyUsage used when ``keyUsage`` is nil: CAs get keyCertSign, cRLSign, digitalSignature;
    /// subscribers get digitalSignature, whatever their key type. RSA subscribers do not get
    /// keyEncipherment: it only serves TLS's RSA key transport, which TLS 1.3 dropped and ECDHE
    /// suites never use, and the BR (7.1.2.7.11) do not recommend it together with digitalSignature.
    public func defaultKeyUsage(for subjectKey: KeyAlgorithm) -> KeyUsage {
        switch role {
        case .certificateAuthority: [.digitalSignature, .keyCertSign, .cRLSign]
        case .endEntity: [.digitalSignature]
        }
    }

    /// Whether the role is a CA.
    public var isCertificateAuthority: Bool {
        if case .certificateAuthority = role { return true }
        return false
    }

    static func days(_ count: Int) -> TimeInterval { TimeInterval(count) * 86400 }
}

/// The BR limit on TLS subscriber certificate lifetimes (BR 6.3.2, ballot SC-081).
public enum TLSValidityLimit {
    /// The maximum validity in days for a TLS server certificate whose notBefore is `date`:
    /// 398 before 15 March 2026, 200 until 15 March 2027, 100 until 15 March 2029, then 47.
    public static func maximumDays(notBefore date: Date) -> Int {
        let steps: [(TimeInterval, Int)] = [
            (1_773_532_800, 398), // 2026-03-15T00:00:00Z
            (1_805_068_800, 200), // 2027-03-15T00:00:00Z
            (1_868_227_200, 100), // 2029-03-15T00:00:00Z
        ]
        for (start, days) in steps where date.timeIntervalSince1970 < start { return days }
        return 47
    }
}
