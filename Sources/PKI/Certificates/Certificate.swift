import COpenSSL
import Foundation

/// An X.509 certificate held by OpenSSL, with its DER bytes.
///
/// Immutable and safe to share between threads; fields are decoded on access.
public final class Certificate: @unchecked Sendable, Hashable, CustomStringConvertible {
    let x509: OpaquePointer
    /// The DER encoding exactly as parsed or issued.
    public let der: Data
    /// The subject key, for certificates certbus built by copying an encoded key (their X509
    /// object then has no decoded key; see ``EncodedPublicKeyInfo``).
    private let knownSubjectKey: PublicKey?

    /// Takes ownership of `x509`; `der` must be its encoding.
    init(taking x509: OpaquePointer, der: Data, knownSubjectKey: PublicKey? = nil) {
        self.x509 = x509
        self.der = der
        self.knownSubjectKey = knownSubjectKey
        // Decode and cache the extensions now, so later concurrent reads only read.
        X509_check_purpose(x509, -1, 0)
        OpenSSLErrorQueue.clear()
    }

    /// Takes ownership of a freshly built `x509`, encoding it.
    convenience init(taking x509: OpaquePointer, operation: String, knownSubjectKey: PublicKey?) throws {
        let der: Data
        do {
            der = try encodeDER(operation) { i2d_X509(x509, $0) }
        } catch {
            X509_free(x509)
            throw error
        }
        self.init(taking: x509, der: der, knownSubjectKey: knownSubjectKey)
    }

    /// The subject's EVP_PKEY (not retained). Use this, never X509_get0_pubkey, inside PKI.
    var subjectKeyPointer: OpaquePointer? {
        if let knownSubjectKey { return knownSubjectKey.pkey }
        let pkey = X509_get0_pubkey(x509)
        if pkey == nil { OpenSSLErrorQueue.clear() }
        return pkey
    }

    deinit { X509_free(x509) }

    /// Parses one DER certificate.
    public convenience init(der: Data) throws {
        let x509 = try decodeDER(der, "parse certificate", what: "certificate", free: X509_free) { cursor, length in
            d2i_X509(nil, cursor, length)
        }
        self.init(taking: x509, der: der)
    }

    /// Parses exactly one PEM certificate ("BEGIN CERTIFICATE"); use ``parseChain(pem:)`` for bundles.
    public convenience init(pem: String) throws {
        let block = try PEM.singleBlock(in: pem, labels: ["CERTIFICATE"], what: "certificate", operation: "parse certificate")
        try self.init(der: block.der)
    }

    /// Parses every certificate of a PEM bundle, in order (leaf first, as servers send them).
    /// Blocks with other labels are ignored; no certificate at all is an error, and so is any
    /// certificate block that does not parse (its position is in the message).
    public static func parseChain(pem: String) throws -> [Certificate] {
        let operation = "parse certificate chain"
        let blocks: [PEMBlock]
        do {
            blocks = try PEM.blocks(in: pem).filter { $0.label == "CERTIFICATE" }
        } catch let error as PKIError {
            throw PKIError(error.kind, operation: operation, message: error.message)
        }
        guard !blocks.isEmpty else {
            throw PKIError(.malformedInput, operation: operation,
                           message: "no PEM certificate found (expected BEGIN CERTIFICATE blocks)")
        }
        return try blocks.enumerated().map { index, block in
            do {
                return try Certificate(der: block.der)
            } catch let error as PKIError {
                throw PKIError(error.kind, operation: operation,
                               message: "certificate \(index + 1) of \(blocks.count): \(error.message)",
                               openSSLReason: error.openSSLReason)
            }
        }
    }

    /// The certificate as PEM ("BEGIN CERTIFICATE"), newline-terminated.
    public var pem: String { PEM.encode(der, label: "CERTIFICATE") }

    /// The X.509 version number (3 for v3).
    public var version: Int { Int(X509_get_version(x509)) + 1 }

    /// The serial number.
    public var serialNumber: SerialNumber? { SerialNumber(reading: X509_get0_serialNumber(x509)) }

    /// The serial number as lowercase hex ("" if the certificate's serial is zero).
    public var serialNumberHex: String { serialNumber?.hex ?? "" }

    /// The subject name.
    public var subject: DistinguishedName { DistinguishedName(reading: X509_get_subject_name(x509)) }

    /// The issuer name.
    public var issuer: DistinguishedName { DistinguishedName(reading: X509_get_issuer_name(x509)) }

    /// Start of the validity period.
    public var notBefore: Date { ASN1.date(X509_get0_notBefore(x509)) ?? .distantPast }

    /// End of the validity period (inclusive).
    public var notAfter: Date { ASN1.date(X509_get0_notAfter(x509)) ?? .distantPast }

    /// Whether `date` lies within notBefore...notAfter.
    public func isValid(at date: Date = Date()) -> Bool {
        date >= notBefore && date <= notAfter
    }

    /// The subjectAltName entries, in order; empty if the extension is absent.
    public var subjectAlternativeNames: [SubjectAlternativeName] {
        guard let names = extensionValue(NID_subject_alt_name) else { return [] }
        defer { GENERAL_NAMES_free(OpaquePointer(names)) }
        return SubjectAlternativeName.list(reading: OpaquePointer(names))
    }

    /// The DNS names among the subjectAltName entries.
    public var dnsNames: [String] {
        subjectAlternativeNames.compactMap { if case .dnsName(let name) = $0 { name } else { nil } }
    }

    /// Whether basicConstraints says cA TRUE.
    public var isCA: Bool {
        guard let value = extensionValue(NID_basic_constraints) else { return false }
        let constraints = value.assumingMemoryBound(to: BASIC_CONSTRAINTS.self)
        defer { BASIC_CONSTRAINTS_free(constraints) }
        return constraints.pointee.ca != 0
    }

    /// The basicConstraints pathLenConstraint, if present.
    public var pathLengthConstraint: Int? {
        guard let value = extensionValue(NID_basic_constraints) else { return nil }
        let constraints = value.assumingMemoryBound(to: BASIC_CONSTRAINTS.self)
        defer { BASIC_CONSTRAINTS_free(constraints) }
        guard let pathLength = constraints.pointee.pathlen else { return nil }
        return Int(ASN1_INTEGER_get(pathLength))
    }

    /// The keyUsage bits, or nil when the extension is absent.
    public var keyUsage: KeyUsage? {
        guard let value = extensionValue(NID_key_usage) else { return nil }
        let bits = value.assumingMemoryBound(to: ASN1_BIT_STRING.self)
        defer { ASN1_BIT_STRING_free(bits) }
        return KeyUsage(reading: bits)
    }

    /// The extendedKeyUsage purposes, in order; empty if the extension is absent.
    public var extendedKeyUsage: [ExtendedKeyUsage] {
        guard let value = extensionValue(NID_ext_key_usage) else { return [] }
        let stack = OpaquePointer(value)
        defer { EXTENDED_KEY_USAGE_free(stack) }
        let count = certbus_sk_ASN1_OBJECT_num(stack)
        return (0..<max(count, 0)).map { ExtendedKeyUsage(reading: certbus_sk_ASN1_OBJECT_value(stack, $0)) }
    }

    /// The subjectKeyIdentifier, if present.
    public var subjectKeyIdentifier: Data? {
        X509_get0_subject_key_id(x509).map { ASN1.bytes($0) }
    }

    /// The keyIdentifier of the authorityKeyIdentifier, if present.
    public var authorityKeyIdentifier: Data? {
        X509_get0_authority_key_id(x509).map { ASN1.bytes($0) }
    }

    /// The full-name URIs of the cRLDistributionPoints extension.
    public var crlDistributionPoints: [String] {
        guard let value = extensionValue(NID_crl_distribution_points) else { return [] }
        let points = OpaquePointer(value)
        defer { CRL_DIST_POINTS_free(points) }
        var uris: [String] = []
        for index in 0..<max(certbus_sk_DIST_POINT_num(points), 0) {
            guard let point = certbus_sk_DIST_POINT_value(points, index),
                  let name = point.pointee.distpoint, name.pointee.type == 0 else { continue }
            for general in SubjectAlternativeName.list(reading: name.pointee.name.fullname) {
                if case .uri(let uri) = general { uris.append(uri) }
            }
        }
        return uris
    }

    /// The OCSP responder URIs of the authorityInfoAccess extension.
    public var ocspURLs: [String] { accessLocations(NID_ad_OCSP) }

    /// The caIssuers URIs of the authorityInfoAccess extension.
    public var caIssuersURLs: [String] { accessLocations(NID_ad_ca_issuers) }

    /// Every extension's OID, short name and criticality, in order.
    public var extensions: [CertificateExtensionInfo] {
        (0..<max(X509_get_ext_count(x509), 0)).compactMap { index in
            guard let ext = X509_get_ext(x509, index) else { return nil }
            return CertificateExtensionInfo(reading: ext)
        }
    }

    /// The SHA-256 digest of the DER certificate.
    public var sha256FingerprintData: Data { SHA256.hash(der) }

    /// The SHA-256 fingerprint as 64 lowercase hex digits, no separators.
    public var sha256Fingerprint: String { Hex.encode(sha256FingerprintData) }

    /// The subject public key.
    public var publicKey: PublicKey {
        get throws {
            if let knownSubjectKey { return knownSubjectKey }
            guard let pkey = X509_get_pubkey(x509) else {
                throw PKIError.openSSL(.unsupported, "read certificate public key", "the public key cannot be decoded")
            }
            return try PublicKey(taking: pkey, operation: "read certificate public key")
        }
    }

    /// The subject key's algorithm, or nil for a key type certbus does not handle.
    public var publicKeyAlgorithm: KeyAlgorithm? {
        if let knownSubjectKey { return knownSubjectKey.algorithm }
        guard let pkey = subjectKeyPointer else { return nil }
        let algorithm = try? KeyAlgorithm.of(pkey, operation: "read certificate public key")
        OpenSSLErrorQueue.clear()
        return algorithm
    }

    /// OpenSSL's long name of the signature algorithm, e.g. "ecdsa-with-SHA256".
    public var signatureAlgorithm: String {
        let nid = X509_get_signature_nid(x509)
        return OBJ_nid2ln(nid).map { String(cString: $0) } ?? "unknown"
    }

    /// Whether subject and issuer names are equal (self-issued; roots are).
    public var isSelfIssued: Bool {
        X509_NAME_cmp(X509_get_subject_name(x509), X509_get_issuer_name(x509)) == 0
    }

    /// Checks that `issuer` issued this certificate: the names chain, the authority key
    /// identifier matches the issuer's subject key identifier when both are present, the
    /// issuer's keyUsage (if any) allows certificate signing, and the signature verifies under
    /// the issuer's public key. Validity dates are not checked.
    public func verify(issuer: Certificate) throws {
        let operation = "verify certificate signature"
        func failure(_ message: String) -> PKIError {
            PKIError(.verificationFailed, operation: operation, message: message)
        }
        guard X509_NAME_cmp(X509_get_subject_name(issuer.x509), X509_get_issuer_name(x509)) == 0 else {
            throw failure("\(issuer.subject) is not the issuer of \(subject): the issuer name is \(self.issuer)")
        }
        if let authority = authorityKeyIdentifier, let issuerKeyID = issuer.subjectKeyIdentifier, authority != issuerKeyID {
            throw failure("\(issuer.subject) is not the issuer of \(subject): the authority key identifier does not match")
        }
        if let usage = issuer.keyUsage, !usage.contains(.keyCertSign) {
            throw failure("the keyUsage of \(issuer.subject) does not allow signing certificates")
        }
        guard let key = issuer.subjectKeyPointer else {
            throw PKIError.openSSL(.unsupported, operation, "the issuer's public key cannot be decoded")
        }
        guard X509_verify(x509, key) == 1 else {
            throw PKIError.openSSL(.verificationFailed, operation, "the signature does not verify under the key of \(issuer.subject)")
        }
    }

    /// Whether this certificate's public key is the public half of `key`.
    public func matches(_ key: PrivateKey) -> Bool {
        guard let pkey = subjectKeyPointer else { return false }
        return EVP_PKEY_eq(pkey, key.pkey) == 1
    }

    /// Equal when the DER encodings are equal.
    public static func == (lhs: Certificate, rhs: Certificate) -> Bool { lhs.der == rhs.der }

    /// Hashes the DER encoding.
    public func hash(into hasher: inout Hasher) { hasher.combine(der) }

    /// "Certificate(subject, serial …)".
    public var description: String { "Certificate(\(subject), serial \(serialNumberHex))" }

    /// The decoded extension `nid` (caller frees with the type's free function), or nil if absent.
    private func extensionValue(_ nid: Int32) -> UnsafeMutableRawPointer? {
        var critical: Int32 = 0
        let value = X509_get_ext_d2i(x509, nid, &critical, nil)
        if value == nil { OpenSSLErrorQueue.clear() }
        return value
    }

    private func accessLocations(_ method: Int32) -> [String] {
        guard let value = extensionValue(NID_info_access) else { return [] }
        let access = OpaquePointer(value)
        defer { AUTHORITY_INFO_ACCESS_free(access) }
        var uris: [String] = []
        for index in 0..<max(certbus_sk_ACCESS_DESCRIPTION_num(access), 0) {
            guard let description = certbus_sk_ACCESS_DESCRIPTION_value(access, index),
                  OBJ_obj2nid(description.pointee.method) == method,
                  let location = description.pointee.location,
                  case .uri(let uri) = SubjectAlternativeName(reading: location) else { continue }
            uris.append(uri)
        }
        return uris
    }
}

/// One extension of a certificate, as listed by ``Certificate/extensions``.
public struct CertificateExtensionInfo: Sendable, Hashable {
    /// The dotted OID.
    public let oid: String
    /// OpenSSL's short name ("basicConstraints"), or the OID if OpenSSL has none.
    public let name: String
    /// Whether the extension is marked critical.
    public let isCritical: Bool

    init(reading ext: OpaquePointer) {
        let object = X509_EXTENSION_get_object(ext)
        oid = ASN1.oid(object)
        let nid = OBJ_obj2nid(object)
        name = nid == NID_undef ? oid : (OBJ_nid2sn(nid).map { String(cString: $0) } ?? oid)
        isCritical = X509_EXTENSION_get_critical(ext) == 1
    }
}
