import COpenSSL
import Foundation

/// A CA that signs certificates and CRLs: its certificate and private key, parsed once.
///
/// Immutable and safe to use from many threads at once; each issuance only reads the CA's
/// objects. Create one per CA and keep it, so issuing never re-parses the CA.
public final class CertificateIssuer: @unchecked Sendable {
    /// The CA certificate.
    public let certificate: Certificate
    /// The CA private key.
    let key: PrivateKey
    /// The CA's key identifier, used as the authorityKeyIdentifier of what it signs.
    public let keyIdentifier: Data
    /// The authorityKeyIdentifier extension, encoded once.
    let authorityKeyIdentifierExtension: OpaquePointer

    /// A CA from its certificate and key. The certificate must be a CA certificate
    /// (basicConstraints cA TRUE) allowed to sign certificates, and `key` must be its key.
    public init(certificate: Certificate, key: PrivateKey) throws {
        let operation = "load certificate authority"
        guard certificate.matches(key) else {
            throw PKIError(.invalidArgument, operation: operation,
                           message: "the private key does not belong to the certificate of \(certificate.subject)")
        }
        guard certificate.isCA else {
            throw PKIError(.policyViolation, operation: operation,
                           message: "\(certificate.subject) is not a CA certificate (basicConstraints cA is not TRUE)")
        }
        if let usage = certificate.keyUsage, !usage.contains(.keyCertSign) {
            throw PKIError(.policyViolation, operation: operation,
                           message: "the keyUsage of \(certificate.subject) does not allow keyCertSign")
        }
        self.certificate = certificate
        self.key = key
        keyIdentifier = try certificate.subjectKeyIdentifier ?? Self.keyIdentifier(of: certificate.x509, operation)
        authorityKeyIdentifierExtension = try ExtensionEncoding.authorityKeyIdentifier(keyIdentifier, operation)
    }

    deinit { X509_EXTENSION_free(authorityKeyIdentifierExtension) }

    /// The CA key's algorithm.
    public var keyAlgorithm: KeyAlgorithm { key.algorithm }

    /// Creates a self-signed root CA certificate for `key` and returns it as an issuer.
    /// `profile` must have the CA role (default: ``IssuanceProfile/rootCA(validityDays:pathLength:)``).
    public static func selfSignedRoot(
        key: PrivateKey, subject: DistinguishedName, profile: IssuanceProfile = .rootCA(), now: Date = Date()
    ) throws -> CertificateIssuer {
        let operation = "create root certificate"
        guard profile.isCertificateAuthority else {
            throw PKIError(.invalidArgument, operation: operation, message: "a root certificate needs a CA profile")
        }
        guard !subject.isEmpty else {
            throw PKIError(.invalidArgument, operation: operation, message: "a root certificate needs a subject name")
        }
        let window = try ValidityWindow(profile: profile, now: now, operation: operation)
        try IssuancePolicy.checkRoot(key: key.algorithm, profile: profile, operation: operation)
        let subjectName = try subject.makeX509Name(operation)
        defer { X509_NAME_free(subjectName) }
        let certificate = try build(
            operation: operation, subjectName: subjectName, issuerName: subjectName, subjectKey: key.publicKey,
            sans: [], profile: profile, window: window,
            signingKey: key, authorityKeyIdentifier: nil)
        return try CertificateIssuer(certificate: certificate, key: key)
    }

    /// Issues a certificate for a CSR after checking its self-signature. Subject and SANs come
    /// from the CSR unless given. For subscriber profiles that require SANs, the subject common
    /// name is added as a SAN when it is not already one (BR 7.1.4.3: the CN must be a SAN value).
    public func issue(
        for request: CertificateSigningRequest, profile: IssuanceProfile, subject: DistinguishedName? = nil,
        subjectAlternativeNames: [SubjectAlternativeName]? = nil, now: Date = Date()
    ) throws -> Certificate {
        do {
            try request.verifySignature()
        } catch let error as PKIError {
            throw PKIError(.verificationFailed, operation: "issue certificate",
                           message: "the CSR's signature does not verify (no proof of key possession)",
                           openSSLReason: error.openSSLReason)
        }
        return try issue(
            publicKey: request.publicKey, subject: subject ?? request.subject,
            subjectAlternativeNames: subjectAlternativeNames ?? request.subjectAlternativeNames,
            profile: profile, now: now)
    }

    /// Issues a certificate for `publicKey` with `subject` and `subjectAlternativeNames`
    /// shaped by `profile`, signed by this CA. Violations of the profile, the BR or this CA's
    /// constraints throw `.policyViolation` and nothing is signed.
    public func issue(
        publicKey: PublicKey, subject: DistinguishedName, subjectAlternativeNames: [SubjectAlternativeName],
        profile: IssuanceProfile, now: Date = Date()
    ) throws -> Certificate {
        let operation = "issue certificate"
        let window = try ValidityWindow(profile: profile, now: now, operation: operation)
        let sans = try IssuancePolicy.check(
            subject: subject, subjectAlternativeNames: subjectAlternativeNames, subjectKey: publicKey.algorithm,
            profile: profile, window: window, issuer: certificate, operation: operation)
        let subjectName = try subject.makeX509Name(operation)
        defer { X509_NAME_free(subjectName) }
        return try Self.build(
            operation: operation, subjectName: subjectName, issuerName: X509_get_subject_name(certificate.x509),
            subjectKey: publicKey, sans: sans, profile: profile,
            window: window, signingKey: key, authorityKeyIdentifier: authorityKeyIdentifierExtension)
    }

    /// Assembles and signs one certificate.
    private static func build(
        operation: String, subjectName: OpaquePointer, issuerName: OpaquePointer?, subjectKey: PublicKey,
        sans: [SubjectAlternativeName], profile: IssuanceProfile,
        window: ValidityWindow, signingKey: PrivateKey, authorityKeyIdentifier: OpaquePointer?
    ) throws -> Certificate {
        let digest = try SignatureDigest.resolve(profile.signatureDigest, for: signingKey.algorithm, operation: operation)
        OpenSSLErrorQueue.clear()
        guard let x509 = X509_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        var owned = true
        defer { if owned { X509_free(x509) } }

        let serial = try SerialNumber.random().makeInteger(operation)
        defer { ASN1_INTEGER_free(serial) }
        let notBefore = try ASN1.makeTime(window.notBefore, operation)
        defer { ASN1_TIME_free(notBefore) }
        let notAfter = try ASN1.makeTime(window.notAfter, operation)
        defer { ASN1_TIME_free(notAfter) }
        guard X509_set_version(x509, 2) == 1,
              X509_set_serialNumber(x509, serial) == 1,
              X509_set_issuer_name(x509, issuerName) == 1,
              X509_set_subject_name(x509, subjectName) == 1,
              X509_set1_notBefore(x509, notBefore) == 1,
              X509_set1_notAfter(x509, notAfter) == 1
        else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot fill in the certificate")
        }
        // Copy the already-encoded key when we have it (fast); otherwise let OpenSSL encode it.
        var knownSubjectKey: PublicKey?
        if let encoded = subjectKey.encodedInfo, let target = X509_get_X509_PUBKEY(x509) {
            try encoded.copy(into: target, operation)
            knownSubjectKey = subjectKey
        } else {
            guard X509_set_pubkey(x509, subjectKey.pkey) == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot set the subject public key")
            }
        }
        let subjectAlgorithm = subjectKey.algorithm

        let isCA: Bool
        let pathLength: Int?
        switch profile.role {
        case .endEntity: (isCA, pathLength) = (false, nil)
        case .certificateAuthority(let length): (isCA, pathLength) = (true, length)
        }
        let usage = profile.keyUsage ?? profile.defaultKeyUsage(for: subjectAlgorithm)
        try ExtensionEncoding.add(try ExtensionEncoding.basicConstraints(isCA: isCA, pathLength: pathLength, operation), to: x509, operation)
        try ExtensionEncoding.add(try ExtensionEncoding.keyUsage(usage, operation), to: x509, operation)
        if !profile.extendedKeyUsage.isEmpty {
            try ExtensionEncoding.add(try ExtensionEncoding.extendedKeyUsage(profile.extendedKeyUsage, operation), to: x509, operation)
        }
        if !sans.isEmpty {
            let critical = X509_NAME_entry_count(subjectName) == 0
            try ExtensionEncoding.add(try ExtensionEncoding.subjectAlternativeNames(sans, critical: critical, operation), to: x509, operation)
        }
        let subjectKeyIdentifier = try keyIdentifier(of: x509, operation)
        try ExtensionEncoding.add(try ExtensionEncoding.subjectKeyIdentifier(subjectKeyIdentifier, operation), to: x509, operation)
        if let authorityKeyIdentifier {
            guard X509_add_ext(x509, authorityKeyIdentifier, -1) == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot add the authority key identifier")
            }
        } else {
            // Self-signed: the authority is the subject itself.
            try ExtensionEncoding.add(try ExtensionEncoding.authorityKeyIdentifier(subjectKeyIdentifier, operation), to: x509, operation)
        }
        if let url = profile.crlDistributionPointURL {
            try ExtensionEncoding.add(try ExtensionEncoding.crlDistributionPoint(url, operation), to: x509, operation)
        }
        if profile.ocspURL != nil || profile.caIssuersURL != nil {
            try ExtensionEncoding.add(
                try ExtensionEncoding.authorityInformationAccess(ocspURL: profile.ocspURL, caIssuersURL: profile.caIssuersURL, operation),
                to: x509, operation)
        }
        if !profile.certificatePolicies.isEmpty {
            try ExtensionEncoding.add(try ExtensionEncoding.certificatePolicies(profile.certificatePolicies, operation), to: x509, operation)
        }

        guard X509_sign(x509, signingKey.pkey, digest) > 0 else {
            throw PKIError.openSSL(.internalFailure, operation, "signing failed")
        }
        owned = false
        return try Certificate(taking: x509, operation: operation, knownSubjectKey: knownSubjectKey)
    }

    /// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING.
    static func keyIdentifier(of x509: OpaquePointer, _ operation: String) throws -> Data {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_pubkey_digest(x509, EVP_sha1(), &digest, &length) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot compute the key identifier")
        }
        return Data(digest.prefix(Int(length)))
    }
}

/// notBefore and notAfter of a certificate about to be issued.
struct ValidityWindow {
    let notBefore: Date
    let notAfter: Date

    init(profile: IssuanceProfile, now: Date, operation: String) throws {
        guard profile.validity >= 1 else {
            throw PKIError(.invalidArgument, operation: operation, message: "the validity period must be at least one second")
        }
        guard profile.backdate >= 0, profile.backdate <= 48 * 3600 else {
            throw PKIError(.invalidArgument, operation: operation, message: "backdating must be between 0 and 48 hours")
        }
        notBefore = Date(timeIntervalSince1970: (now.timeIntervalSince1970 - profile.backdate).rounded(.down))
        notAfter = notBefore.addingTimeInterval(profile.validity.rounded(.down) - 1)
    }
}
