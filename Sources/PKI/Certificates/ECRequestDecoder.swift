import COpenSSL
import Foundation

/// Decodes the common shape of an ECDSA certificate signing request — P-256 or P-384 key
/// (uncompressed point), signed with ECDSA over SHA-256/384/512 — without `d2i_X509_REQ`.
///
/// Why: OpenSSL 3.0 decodes the public key of every parsed X509_REQ through its provider decoder
/// framework, which sets up a decoder context per key. Measured on this project's machine (C,
/// CPU time): `d2i_X509_REQ` 78 µs, parse + verify 125 µs; the same key built with
/// `EVP_PKEY_fromdata` 12 µs, and the signature check itself 47 µs. Bulk issuance parses one CSR per
/// certificate, so this was a tenth of its CPU. Anything of another shape (RSA, Ed25519, other
/// curves, compressed points, other attributes) returns nil and goes to OpenSSL as before; the
/// subject and the extensions are still decoded by OpenSSL's ASN.1 templates (d2i_X509_NAME,
/// d2i_X509_EXTENSIONS), which are fast.
enum ECRequestDecoder {
    /// Offsets into the request's DER, and the decoded key and signature.
    struct Parts {
        /// certificationRequestInfo: the signed bytes.
        var info: Range<Int>
        /// The subject Name.
        var subject: Range<Int>
        var curve: EllipticCurve
        /// The uncompressed point (0x04 || X || Y).
        var point: Range<Int>
        /// The whole SubjectPublicKeyInfo.
        var subjectPublicKeyInfo: Range<Int>
        /// The Extensions SEQUENCE of the extensionRequest attribute, if any.
        var extensions: Range<Int>?
        var digest: SignatureDigest
        /// The DER ECDSA signature.
        var signature: Range<Int>
    }

    static let ecPublicKey: [UInt8] = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]
    static let curves: [([UInt8], EllipticCurve, Int)] = [
        ([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07], .p256, 65),
        ([0x2b, 0x81, 0x04, 0x00, 0x22], .p384, 97),
    ]
    static let signatureAlgorithms: [([UInt8], SignatureDigest)] = [
        ([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02], .sha256),
        ([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03], .sha384),
        ([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04], .sha512),
    ]
    static let extensionRequest: [UInt8] = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x0e]

    /// The parts of `der` when it has the shape above, nil otherwise (including malformed input,
    /// which OpenSSL then reports in its own words).
    static func decode(_ der: [UInt8]) -> Parts? {
        try? parts(der)
    }

    private static func parts(_ b: [UInt8]) throws -> Parts? {
        func bytes(_ e: DERElement) -> ArraySlice<UInt8> { b[e.content] }
        let root = try DERReader.root(b)
        let top = try DERReader.children(b, of: root)
        guard root.tag == 0x30, top.count == 3, top[0].tag == 0x30, top[1].tag == 0x30, top[2].tag == 0x03 else { return nil }
        let info = try DERReader.children(b, of: top[0])
        guard info.count == 4, info[0].tag == 0x02, bytes(info[0]) == [0x00], info[1].tag == 0x30, info[2].tag == 0x30,
              info[3].tag == 0xa0
        else { return nil }
        // SubjectPublicKeyInfo: { { id-ecPublicKey, namedCurve }, BIT STRING 0x00 || point }
        let spki = try DERReader.children(b, of: info[2])
        guard spki.count == 2, spki[0].tag == 0x30, spki[1].tag == 0x03 else { return nil }
        let algorithm = try DERReader.children(b, of: spki[0])
        guard algorithm.count == 2, algorithm[0].tag == 0x06, bytes(algorithm[0]).elementsEqual(ecPublicKey), algorithm[1].tag == 0x06,
              let (_, curve, pointLength) = curves.first(where: { bytes(algorithm[1]).elementsEqual($0.0) })
        else { return nil }
        let key = spki[1].content
        guard key.count == pointLength + 1, b[key.lowerBound] == 0x00, b[key.lowerBound + 1] == 0x04 else { return nil }
        // Attributes: only extensionRequest, at most once, with one Extensions value.
        var extensions: Range<Int>?
        for attribute in try DERReader.children(b, of: info[3]) {
            let parts = try DERReader.children(b, of: attribute)
            guard attribute.tag == 0x30, parts.count == 2, parts[0].tag == 0x06, bytes(parts[0]).elementsEqual(extensionRequest),
                  parts[1].tag == 0x31, extensions == nil
            else { return nil }
            let values = try DERReader.children(b, of: parts[1])
            guard values.count == 1, values[0].tag == 0x30 else { return nil }
            extensions = values[0].range
        }
        // signatureAlgorithm: { ecdsa-with-SHAxxx } (no parameters); signature: BIT STRING 0x00 || DER signature.
        let signatureAlgorithm = try DERReader.children(b, of: top[1])
        guard signatureAlgorithm.count == 1, signatureAlgorithm[0].tag == 0x06,
              let (_, digest) = signatureAlgorithms.first(where: { bytes(signatureAlgorithm[0]).elementsEqual($0.0) }),
              top[2].content.count > 1, b[top[2].contentStart] == 0x00
        else { return nil }
        return Parts(info: top[0].range, subject: info[1].range, curve: curve, point: (key.lowerBound + 1)..<key.upperBound,
                     subjectPublicKeyInfo: info[2].range, extensions: extensions, digest: digest,
                     signature: (top[2].contentStart + 1)..<top[2].end)
    }

    /// The EC public key with `point` on `curve`, built from its parameters (no decoder).
    /// Throws `.malformedInput` for a point that is not on the curve.
    static func publicKey(curve: EllipticCurve, point: ArraySlice<UInt8>, operation: String) throws -> OpaquePointer {
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_fromdata_init(context) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot build EC keys")
        }
        var group = Array((curve == .p256 ? "P-256" : "P-384").utf8CString)
        var pkey: OpaquePointer?
        let built = Array(point).withUnsafeBytes { raw in
            group.withUnsafeMutableBufferPointer { name in
                var parameters = [
                    OSSL_PARAM_construct_utf8_string(ParameterKeys.group, name.baseAddress, 0),
                    OSSL_PARAM_construct_octet_string(ParameterKeys.publicKey, UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count),
                    OSSL_PARAM_construct_end(),
                ]
                return EVP_PKEY_fromdata(context, &pkey, certbus_EVP_PKEY_PUBLIC_KEY(), &parameters)
            }
        }
        guard built == 1, let pkey else {
            throw PKIError.openSSL(.malformedInput, operation, "the public key cannot be decoded")
        }
        return pkey
    }

    /// OSSL_PARAM keeps the key name's pointer: these live as long as the process.
    private enum ParameterKeys {
        nonisolated(unsafe) static let group = UnsafePointer(strdup(OSSL_PKEY_PARAM_GROUP_NAME)!)
        nonisolated(unsafe) static let publicKey = UnsafePointer(strdup(OSSL_PKEY_PARAM_PUB_KEY)!)
    }

    /// An X509_PUBKEY holding `parts`' algorithm, curve and key bits as encoded, without a decoded
    /// key (issuance copies it into the certificate; see ``EncodedPublicKeyInfo``).
    static func encodedInfo(_ parts: Parts, der: [UInt8], operation: String) throws -> EncodedPublicKeyInfo {
        guard let pubkey = X509_PUBKEY_new() else { throw PKIError.openSSL(.internalFailure, operation, "out of memory") }
        let holder = PublicKeyInfoHolder(pubkey)
        let bits = parts.point.count
        guard let buffer = certbus_OPENSSL_malloc(bits) else { throw PKIError.openSSL(.internalFailure, operation, "out of memory") }
        der.withUnsafeBytes { raw in buffer.copyMemory(from: raw.baseAddress! + parts.point.lowerBound, byteCount: bits) }
        let curveObject = OBJ_nid2obj(parts.curve.nid)
        guard X509_PUBKEY_set0_param(pubkey, OBJ_nid2obj(NID_X9_62_id_ecPublicKey), V_ASN1_OBJECT,
                                     UnsafeMutableRawPointer(curveObject), buffer.assumingMemoryBound(to: UInt8.self), Int32(bits)) == 1
        else {
            certbus_OPENSSL_free(buffer)
            throw PKIError.openSSL(.internalFailure, operation, "cannot hold the subject public key")
        }
        return EncodedPublicKeyInfo(owner: holder, pointer: pubkey)
    }

    /// Owns an X509_PUBKEY made by ``encodedInfo(_:der:operation:)``.
    final class PublicKeyInfoHolder {
        let pointer: OpaquePointer
        init(_ pointer: OpaquePointer) { self.pointer = pointer }
        deinit { X509_PUBKEY_free(pointer) }
    }
}
