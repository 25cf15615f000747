import COpenSSL
import Foundation

/// A PKCS#10 certificate signing request (RFC 2986).
///
/// Immutable and safe to share between threads. Subject, SANs and the public key are decoded
/// once, when the request is created or parsed. ECDSA requests of the usual shape are decoded
/// without `d2i_X509_REQ` (``ECRequestDecoder``: OpenSSL 3.0's key decoding costs more than the
/// signature check); every other request is decoded by OpenSSL.
public final class CertificateSigningRequest: @unchecked Sendable, CustomStringConvertible {
    /// Owns the X509_REQ; shared with ``publicKey``, which points into it.
    private final class Storage {
        let request: OpaquePointer
        init(_ request: OpaquePointer) { self.request = request }
        deinit { X509_REQ_free(request) }
    }

    /// What the signature is checked with: OpenSSL's X509_REQ, or the signed bytes and signature
    /// of a request decoded by ``ECRequestDecoder``.
    private enum Signed {
        case request(Storage)
        case decoded(info: Data, signature: Data, digest: SignatureDigest)
    }

    private let signed: Signed
    /// The DER encoding exactly as parsed or created.
    public let der: Data
    /// The requested subject.
    public let subject: DistinguishedName
    /// The subjectAltName entries requested in the extensionRequest attribute.
    public let subjectAlternativeNames: [SubjectAlternativeName]
    /// The public key to be certified.
    public let publicKey: PublicKey

    /// Takes ownership of `request`; `der` must be its encoding.
    private init(taking request: OpaquePointer, der: Data, operation: String) throws {
        let storage = Storage(request)
        guard let pkey = X509_REQ_get_pubkey(request) else {
            throw PKIError.openSSL(.malformedInput, operation, "the public key cannot be decoded")
        }
        let encodedInfo = X509_REQ_get_X509_PUBKEY(request).map { EncodedPublicKeyInfo(owner: storage, pointer: $0) }
        publicKey = try PublicKey(taking: pkey, operation: operation, encodedInfo: encodedInfo)
        let extensions = X509_REQ_get_extensions(request)
        defer { if let extensions { certbus_sk_X509_EXTENSION_pop_free(extensions) } }
        if extensions == nil { OpenSSLErrorQueue.clear() }
        subjectAlternativeNames = try Self.readSubjectAlternativeNames(extensions, operation)
        signed = .request(storage)
        self.der = der
        subject = DistinguishedName(reading: X509_REQ_get_subject_name(request))
    }

    /// A request of the shape ``ECRequestDecoder`` reads, from its parts.
    private init(decoded parts: ECRequestDecoder.Parts, bytes: [UInt8], der: Data, operation: String) throws {
        let pkey = try ECRequestDecoder.publicKey(curve: parts.curve, point: bytes[parts.point], operation: operation)
        publicKey = try PublicKey(taking: pkey, operation: operation,
                                  encodedInfo: try ECRequestDecoder.encodedInfo(parts, der: bytes, operation: operation))
        subject = try Self.decodeName(bytes[parts.subject], operation)
        if let range = parts.extensions {
            let extensions = try decodeDER(Data(bytes[range]), operation, what: "extensionRequest", free: certbus_sk_X509_EXTENSION_pop_free) {
                cursor, length in d2i_X509_EXTENSIONS(nil, cursor, length)
            }
            defer { certbus_sk_X509_EXTENSION_pop_free(extensions) }
            subjectAlternativeNames = try Self.readSubjectAlternativeNames(extensions, operation)
        } else {
            subjectAlternativeNames = []
        }
        signed = .decoded(info: Data(bytes[parts.info]), signature: Data(bytes[parts.signature]), digest: parts.digest)
        self.der = der
    }

    private static func decodeName(_ bytes: ArraySlice<UInt8>, _ operation: String) throws -> DistinguishedName {
        let name = try decodeDER(Data(bytes), operation, what: "subject name", free: X509_NAME_free) { cursor, length in
            d2i_X509_NAME(nil, cursor, length)
        }
        defer { X509_NAME_free(name) }
        return DistinguishedName(reading: name)
    }

    /// Parses a DER request. The signature is not checked here: call ``verifySignature()``.
    public convenience init(der: Data) throws {
        let operation = "parse certificate signing request"
        let bytes = [UInt8](der)
        if let parts = ECRequestDecoder.decode(bytes) {
            try self.init(decoded: parts, bytes: bytes, der: der, operation: operation)
            return
        }
        try self.init(openSSLDecoding: der)
    }

    /// Parses a DER request with OpenSSL's `d2i_X509_REQ` whatever its shape (tests compare both decoders).
    convenience init(openSSLDecoding der: Data) throws {
        let operation = "parse certificate signing request"
        let request = try decodeDER(der, operation, what: "certificate signing request", free: X509_REQ_free) { cursor, length in
            d2i_X509_REQ(nil, cursor, length)
        }
        try self.init(taking: request, der: der, operation: operation)
    }

    /// Parses a PEM request ("BEGIN CERTIFICATE REQUEST" or "BEGIN NEW CERTIFICATE REQUEST").
    public convenience init(pem: String) throws {
        let block = try PEM.singleBlock(
            in: pem, labels: ["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"],
            what: "certificate signing request", operation: "parse certificate signing request")
        try self.init(der: block.der)
    }

    /// Creates and signs a request for `key` with `subject` and `subjectAlternativeNames`
    /// (placed in an extensionRequest attribute). The signature uses the key's default digest.
    public static func create(
        key: PrivateKey, subject: DistinguishedName, subjectAlternativeNames: [SubjectAlternativeName]
    ) throws -> CertificateSigningRequest {
        let operation = "create certificate signing request"
        guard !subject.isEmpty || !subjectAlternativeNames.isEmpty else {
            throw PKIError(.invalidArgument, operation: operation, message: "a request needs a subject or at least one SAN")
        }
        OpenSSLErrorQueue.clear()
        guard let request = X509_REQ_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        var owned = true
        defer { if owned { X509_REQ_free(request) } }
        guard X509_REQ_set_version(request, 0) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot set version")
        }
        let name = try subject.makeX509Name(operation)
        defer { X509_NAME_free(name) }
        guard X509_REQ_set_subject_name(request, name) == 1, X509_REQ_set_pubkey(request, key.pkey) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot set subject or public key")
        }
        if !subjectAlternativeNames.isEmpty {
            let names = try SubjectAlternativeName.makeGeneralNames(subjectAlternativeNames, operation)
            defer { GENERAL_NAMES_free(names) }
            guard let extensions = certbus_sk_X509_EXTENSION_new_null() else {
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
            defer { certbus_sk_X509_EXTENSION_pop_free(extensions) }
            guard let ext = X509V3_EXT_i2d(NID_subject_alt_name, subject.isEmpty ? 1 : 0, UnsafeMutableRawPointer(names)) else {
                throw PKIError.openSSL(.invalidArgument, operation, "cannot encode the subject alternative names")
            }
            guard certbus_sk_X509_EXTENSION_push(extensions, ext) > 0 else {
                X509_EXTENSION_free(ext)
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
            guard X509_REQ_add_extensions(request, extensions) == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot add the extension request")
            }
        }
        let md = try SignatureDigest.resolve(nil, for: key.algorithm, operation: operation)
        guard X509_REQ_sign(request, key.pkey, md) > 0 else {
            throw PKIError.openSSL(.internalFailure, operation, "signing the request failed")
        }
        let der = try encodeDER(operation) { i2d_X509_REQ(request, $0) }
        owned = false
        return try CertificateSigningRequest(taking: request, der: der, operation: operation)
    }

    /// The request as PEM ("BEGIN CERTIFICATE REQUEST").
    public var pem: String { PEM.encode(der, label: "CERTIFICATE REQUEST") }

    /// The subject's last common name, if any.
    public var commonName: String? { subject.commonName }

    /// The public key's algorithm and size.
    public var publicKeyAlgorithm: KeyAlgorithm { publicKey.algorithm }

    /// Whether the request is signed by the private key of its own public key (proof of possession).
    public var isSignatureValid: Bool {
        switch signed {
        case .request(let storage):
            let result = X509_REQ_verify(storage.request, publicKey.pkey)
            OpenSSLErrorQueue.clear()
            return result == 1
        case .decoded(let info, let signature, let digest):
            return (try? publicKey.verify(signature: signature, for: info, digest: digest)) == true
        }
    }

    /// Throws `.verificationFailed` unless ``isSignatureValid``.
    public func verifySignature() throws {
        guard isSignatureValid else {
            throw PKIError.openSSL(.verificationFailed, "verify certificate signing request",
                                   "the request's signature does not verify under its own public key")
        }
    }

    /// "CertificateSigningRequest(subject, SANs)".
    public var description: String {
        "CertificateSigningRequest(\(subject), \(subjectAlternativeNames.map(\.description).joined(separator: " ")))"
    }

    /// The subjectAltName entries of an extensionRequest's extensions (none when nil).
    private static func readSubjectAlternativeNames(_ extensions: OpaquePointer?, _ operation: String) throws -> [SubjectAlternativeName] {
        guard let extensions else { return [] }
        var critical: Int32 = 0
        guard let value = X509V3_get_d2i(extensions, NID_subject_alt_name, &critical, nil) else {
            if critical == -2 {
                throw PKIError(.malformedInput, operation: operation, message: "more than one subjectAltName extension")
            }
            if critical >= 0 {
                throw PKIError.openSSL(.malformedInput, operation, "the subjectAltName extension cannot be decoded")
            }
            OpenSSLErrorQueue.clear()
            return []
        }
        let names = OpaquePointer(value)
        defer { GENERAL_NAMES_free(names) }
        return SubjectAlternativeName.list(reading: names)
    }
}
