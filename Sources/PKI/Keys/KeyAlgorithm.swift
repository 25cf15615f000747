import COpenSSL

/// A NIST elliptic curve certbus uses for ECDSA.
public enum EllipticCurve: String, Sendable, Hashable, CaseIterable {
    /// P-256 (secp256r1, prime256v1).
    case p256 = "P-256"
    /// P-384 (secp384r1).
    case p384 = "P-384"
    /// P-521 (secp521r1); parsed and issued for, not offered for generation by default profiles.
    case p521 = "P-521"

    /// The field size in bits.
    public var bits: Int {
        switch self {
        case .p256: 256
        case .p384: 384
        case .p521: 521
        }
    }

    /// Bytes per coordinate / per signature half (r or s).
    public var coordinateByteCount: Int { (bits + 7) / 8 }

    var nid: Int32 {
        switch self {
        case .p256: NID_X9_62_prime256v1
        case .p384: NID_secp384r1
        case .p521: NID_secp521r1
        }
    }

    init?(nid: Int32) {
        switch nid {
        case NID_X9_62_prime256v1: self = .p256
        case NID_secp384r1: self = .p384
        case NID_secp521r1: self = .p521
        default: return nil
        }
    }
}

/// The type and size of a key pair.
public enum KeyAlgorithm: Sendable, Hashable, CustomStringConvertible {
    /// ECDSA on a NIST curve.
    case ecdsa(EllipticCurve)
    /// RSA with a modulus of `bits` bits.
    case rsa(bits: Int)
    /// Ed25519 (RFC 8032).
    case ed25519

    /// ECDSA P-256.
    public static let ecdsaP256 = KeyAlgorithm.ecdsa(.p256)
    /// ECDSA P-384.
    public static let ecdsaP384 = KeyAlgorithm.ecdsa(.p384)

    /// The smallest RSA modulus certbus generates or accepts for issuance (CA/B Forum BR 6.1.5).
    public static let minimumRSABits = 2048
    /// The largest RSA modulus certbus generates.
    public static let maximumRSABits = 4096

    /// The key size in bits: the curve size, the RSA modulus size, or 256 for Ed25519.
    public var bits: Int {
        switch self {
        case .ecdsa(let curve): curve.bits
        case .rsa(let bits): bits
        case .ed25519: 256
        }
    }

    /// "ECDSA P-256", "RSA 2048", "Ed25519".
    public var description: String {
        switch self {
        case .ecdsa(let curve): "ECDSA \(curve.rawValue)"
        case .rsa(let bits): "RSA \(bits)"
        case .ed25519: "Ed25519"
        }
    }

    /// The digest certbus signs with by default for this key: SHA-384 for P-384/P-521,
    /// SHA-256 for P-256 and RSA, none for Ed25519 (which hashes internally).
    public var defaultDigest: SignatureDigest? {
        switch self {
        case .ecdsa(.p256), .rsa: .sha256
        case .ecdsa(.p384), .ecdsa(.p521): .sha384
        case .ed25519: nil
        }
    }

    /// The algorithm of an OpenSSL key; throws `.unsupported` for any other key type.
    static func of(_ pkey: OpaquePointer, operation: String) throws -> KeyAlgorithm {
        if EVP_PKEY_is_a(pkey, "ED25519") == 1 { return .ed25519 }
        if EVP_PKEY_is_a(pkey, "RSA") == 1 { return .rsa(bits: Int(EVP_PKEY_get_bits(pkey))) }
        if EVP_PKEY_is_a(pkey, "EC") == 1 {
            var buffer = [CChar](repeating: 0, count: 64)
            var length = 0
            guard EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, &buffer, buffer.count, &length) == 1 else {
                throw PKIError.openSSL(.unsupported, operation, "EC key without a named curve")
            }
            let name = String(decoding: buffer.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            var nid = OBJ_sn2nid(name)
            if nid == NID_undef { nid = EC_curve_nist2nid(name) }
            guard let curve = EllipticCurve(nid: nid) else {
                throw PKIError(.unsupported, operation: operation, message: "unsupported elliptic curve \(name)")
            }
            return .ecdsa(curve)
        }
        let name = EVP_PKEY_get0_type_name(pkey).map { String(cString: $0) } ?? "unknown"
        throw PKIError(.unsupported, operation: operation, message: "unsupported key type \(name)")
    }
}

/// The message digest used inside a signature.
public enum SignatureDigest: String, Sendable, Hashable, CaseIterable {
    /// SHA-256.
    case sha256 = "SHA256"
    /// SHA-384.
    case sha384 = "SHA384"
    /// SHA-512.
    case sha512 = "SHA512"

    var evp: OpaquePointer {
        switch self {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        }
    }

    /// The digest to use with `algorithm`: `requested`, or the key's default; Ed25519 takes none.
    static func resolve(_ requested: SignatureDigest?, for algorithm: KeyAlgorithm, operation: String) throws -> OpaquePointer? {
        if algorithm == .ed25519 {
            guard requested == nil else {
                throw PKIError(.invalidArgument, operation: operation,
                               message: "Ed25519 signs the message itself; no digest can be chosen")
            }
            return nil
        }
        return (requested ?? algorithm.defaultDigest ?? .sha256).evp
    }
}
