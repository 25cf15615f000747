import COpenSSL
import Foundation

/// One entry of a CRL.
public struct RevokedCertificate: Sendable, Hashable {
    /// The revoked certificate's serial number.
    public let serialNumber: SerialNumber
    /// When it was revoked.
    public let revocationDate: Date
    /// Why; nil when the entry has no reasonCode (which means unspecified).
    public let reason: RevocationReason?

    /// Creates an entry. A reason of `.unspecified` is stored as nil (RFC 5280 §5.3.1).
    public init(serialNumber: SerialNumber, revocationDate: Date, reason: RevocationReason?) {
        self.serialNumber = serialNumber
        self.revocationDate = Date(timeIntervalSince1970: revocationDate.timeIntervalSince1970.rounded(.down))
        self.reason = reason == .unspecified ? nil : reason
    }
}

/// An X.509 v2 certificate revocation list (RFC 5280 §5). Immutable and thread-safe.
public final class CertificateRevocationList: @unchecked Sendable, CustomStringConvertible {
    let crl: OpaquePointer
    /// The DER encoding exactly as parsed or generated.
    public let der: Data

    private init(taking crl: OpaquePointer, der: Data) {
        self.crl = crl
        self.der = der
    }

    deinit { X509_CRL_free(crl) }

    /// Parses a DER CRL. The signature is not checked here: call ``verify(issuer:)``.
    public convenience init(der: Data) throws {
        let crl = try decodeDER(der, "parse CRL", what: "CRL", free: X509_CRL_free) { cursor, length in
            d2i_X509_CRL(nil, cursor, length)
        }
        self.init(taking: crl, der: der)
    }

    /// Parses a PEM CRL ("BEGIN X509 CRL").
    public convenience init(pem: String) throws {
        let block = try PEM.singleBlock(in: pem, labels: ["X509 CRL"], what: "CRL", operation: "parse CRL")
        try self.init(der: block.der)
    }

    /// The CRL as PEM ("BEGIN X509 CRL").
    public var pem: String { PEM.encode(der, label: "X509 CRL") }

    /// The issuer name.
    public var issuer: DistinguishedName { DistinguishedName(reading: X509_CRL_get_issuer(crl)) }

    /// thisUpdate.
    public var thisUpdate: Date { ASN1.date(X509_CRL_get0_lastUpdate(crl)) ?? .distantPast }

    /// nextUpdate, if present.
    public var nextUpdate: Date? { ASN1.date(X509_CRL_get0_nextUpdate(crl)) }

    /// The cRLNumber extension, if present and at most 64 bits.
    public var crlNumber: UInt64? {
        guard let value = extensionValue(NID_crl_number) else { return nil }
        let integer = value.assumingMemoryBound(to: ASN1_INTEGER.self)
        defer { ASN1_INTEGER_free(integer) }
        var number: UInt64 = 0
        return ASN1_INTEGER_get_uint64(&number, integer) == 1 ? number : nil
    }

    /// The keyIdentifier of the authorityKeyIdentifier extension, if present.
    public var authorityKeyIdentifier: Data? {
        guard let value = extensionValue(NID_authority_key_identifier) else { return nil }
        let akid = value.assumingMemoryBound(to: AUTHORITY_KEYID.self)
        defer { AUTHORITY_KEYID_free(akid) }
        return akid.pointee.keyid.map { ASN1.bytes($0) }
    }

    /// The revoked certificates, in the CRL's order.
    public var entries: [RevokedCertificate] {
        guard let stack = X509_CRL_get_REVOKED(crl) else { return [] }
        return (0..<max(certbus_sk_X509_REVOKED_num(stack), 0)).compactMap { index in
            guard let revoked = certbus_sk_X509_REVOKED_value(stack, index),
                  let serial = SerialNumber(reading: X509_REVOKED_get0_serialNumber(revoked)) else { return nil }
            var critical: Int32 = 0
            var reason: RevocationReason?
            if let value = X509_REVOKED_get_ext_d2i(revoked, NID_crl_reason, &critical, nil) {
                let enumerated = value.assumingMemoryBound(to: ASN1_ENUMERATED.self)
                reason = RevocationReason(rawValue: ASN1_ENUMERATED_get(enumerated))
                ASN1_ENUMERATED_free(enumerated)
            } else {
                OpenSSLErrorQueue.clear()
            }
            let date = ASN1.date(X509_REVOKED_get0_revocationDate(revoked)) ?? .distantPast
            return RevokedCertificate(serialNumber: serial, revocationDate: date, reason: reason)
        }
    }

    /// The entry for `serialNumber`, or nil if it is not revoked by this CRL.
    public func entry(for serialNumber: SerialNumber) -> RevokedCertificate? {
        entries.first { $0.serialNumber == serialNumber }
    }

    /// Checks that `issuer` issued this CRL: issuer names equal, key identifiers match when
    /// present, and the signature verifies under the issuer's key.
    public func verify(issuer: Certificate) throws {
        let operation = "verify CRL"
        guard X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer.x509)) == 0 else {
            throw PKIError(.verificationFailed, operation: operation,
                           message: "the CRL was issued by \(self.issuer), not \(issuer.subject)")
        }
        if let mine = authorityKeyIdentifier, let theirs = issuer.subjectKeyIdentifier, mine != theirs {
            throw PKIError(.verificationFailed, operation: operation,
                           message: "the CRL's authority key identifier does not match the key of \(issuer.subject)")
        }
        guard let key = issuer.subjectKeyPointer else {
            throw PKIError.openSSL(.unsupported, operation, "the issuer's public key cannot be decoded")
        }
        guard X509_CRL_verify(crl, key) == 1 else {
            throw PKIError.openSSL(.verificationFailed, operation, "the CRL's signature does not verify under the key of \(issuer.subject)")
        }
    }

    /// "CertificateRevocationList(issuer, n entries)".
    public var description: String { "CertificateRevocationList(\(issuer), \(entries.count) entries)" }

    private func extensionValue(_ nid: Int32) -> UnsafeMutableRawPointer? {
        var critical: Int32 = 0
        let value = X509_CRL_get_ext_d2i(crl, nid, &critical, nil)
        if value == nil { OpenSSLErrorQueue.clear() }
        return value
    }

    /// Builds and signs a CRL (used by ``CertificateIssuer/revocationList(entries:crlNumber:thisUpdate:nextUpdate:)``).
    static func generate(
        entries: [RevokedCertificate], crlNumber: UInt64, thisUpdate: Date, nextUpdate: Date,
        issuerName: OpaquePointer?, authorityKeyIdentifier: OpaquePointer, key: PrivateKey, digest: OpaquePointer?
    ) throws -> CertificateRevocationList {
        let operation = "generate CRL"
        guard nextUpdate > thisUpdate else {
            throw PKIError(.invalidArgument, operation: operation, message: "nextUpdate must be after thisUpdate")
        }
        OpenSSLErrorQueue.clear()
        guard let crl = X509_CRL_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        var owned = true
        defer { if owned { X509_CRL_free(crl) } }
        let this = try ASN1.makeTime(thisUpdate, operation)
        defer { ASN1_TIME_free(this) }
        let next = try ASN1.makeTime(nextUpdate, operation)
        defer { ASN1_TIME_free(next) }
        guard X509_CRL_set_version(crl, 1) == 1,
              X509_CRL_set_issuer_name(crl, issuerName) == 1,
              X509_CRL_set1_lastUpdate(crl, this) == 1,
              X509_CRL_set1_nextUpdate(crl, next) == 1
        else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot fill in the CRL")
        }
        var seen = Set<SerialNumber>()
        for entry in entries {
            guard seen.insert(entry.serialNumber).inserted else {
                throw PKIError(.invalidArgument, operation: operation, message: "serial \(entry.serialNumber) is listed twice")
            }
            try add(entry, to: crl, operation)
        }
        guard let number = ASN1_INTEGER_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { ASN1_INTEGER_free(number) }
        guard ASN1_INTEGER_set_uint64(number, crlNumber) == 1,
              X509_CRL_add1_ext_i2d(crl, NID_crl_number, UnsafeMutableRawPointer(number), 0, 0) == 1,
              X509_CRL_add_ext(crl, authorityKeyIdentifier, -1) == 1
        else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot add the CRL extensions")
        }
        guard X509_CRL_sort(crl) == 1, X509_CRL_sign(crl, key.pkey, digest) > 0 else {
            throw PKIError.openSSL(.internalFailure, operation, "signing the CRL failed")
        }
        let der = try encodeDER(operation) { i2d_X509_CRL(crl, $0) }
        owned = false
        return CertificateRevocationList(taking: crl, der: der)
    }

    private static func add(_ entry: RevokedCertificate, to crl: OpaquePointer, _ operation: String) throws {
        guard let revoked = X509_REVOKED_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        var owned = true
        defer { if owned { X509_REVOKED_free(revoked) } }
        let serial = try entry.serialNumber.makeInteger(operation)
        defer { ASN1_INTEGER_free(serial) }
        let date = try ASN1.makeTime(entry.revocationDate, operation)
        defer { ASN1_TIME_free(date) }
        guard X509_REVOKED_set_serialNumber(revoked, serial) == 1,
              X509_REVOKED_set_revocationDate(revoked, date) == 1
        else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot fill in a CRL entry")
        }
        if let reason = entry.reason {
            guard let code = ASN1_ENUMERATED_new() else {
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
            defer { ASN1_ENUMERATED_free(code) }
            guard ASN1_ENUMERATED_set(code, reason.rawValue) == 1,
                  X509_REVOKED_add1_ext_i2d(revoked, NID_crl_reason, UnsafeMutableRawPointer(code), 0, 0) == 1
            else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot encode the revocation reason")
            }
        }
        guard X509_CRL_add0_revoked(crl, revoked) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot add a CRL entry")
        }
        owned = false
    }
}

extension CertificateIssuer {
    /// Generates a CRL v2 signed by this CA: the entries, a cRLNumber extension, the
    /// authorityKeyIdentifier, thisUpdate and nextUpdate. The CA must be allowed to sign CRLs.
    public func revocationList(
        entries: [RevokedCertificate], crlNumber: UInt64, thisUpdate: Date = Date(), nextUpdate: Date
    ) throws -> CertificateRevocationList {
        if let usage = certificate.keyUsage, !usage.contains(.cRLSign) {
            throw PKIError(.policyViolation, operation: "generate CRL",
                           message: "the keyUsage of \(certificate.subject) does not allow cRLSign")
        }
        let digest = try SignatureDigest.resolve(nil, for: key.algorithm, operation: "generate CRL")
        return try CertificateRevocationList.generate(
            entries: entries, crlNumber: crlNumber, thisUpdate: thisUpdate, nextUpdate: nextUpdate,
            issuerName: X509_get_subject_name(certificate.x509), authorityKeyIdentifier: authorityKeyIdentifierExtension,
            key: key, digest: digest)
    }
}
