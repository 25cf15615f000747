import COpenSSL
import Foundation

/// A private key (ECDSA, RSA or Ed25519) held by OpenSSL.
///
/// Immutable after creation and safe to share between threads. Its textual description names
/// only the algorithm; the key material leaves only through ``pkcs8PEM()`` / ``pkcs8DER()``.
public final class PrivateKey: @unchecked Sendable, CustomStringConvertible {
    let pkey: OpaquePointer
    /// The key's type and size.
    public let algorithm: KeyAlgorithm

    /// Takes ownership of `pkey`.
    init(taking pkey: OpaquePointer, operation: String) throws {
        do {
            algorithm = try KeyAlgorithm.of(pkey, operation: operation)
        } catch {
            EVP_PKEY_free(pkey)
            throw error
        }
        self.pkey = pkey
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Generates a fresh key pair. RSA sizes must be multiples of 8 between 2048 and 4096 bits.
    public static func generate(_ algorithm: KeyAlgorithm) throws -> PrivateKey {
        let operation = "generate \(algorithm) key"
        let typeName: String
        switch algorithm {
        case .ecdsa: typeName = "EC"
        case .rsa(let bits):
            guard bits >= KeyAlgorithm.minimumRSABits, bits <= KeyAlgorithm.maximumRSABits, bits % 8 == 0 else {
                throw PKIError(.invalidArgument, operation: operation,
                               message: "RSA keys must be 2048 to 4096 bits (a multiple of 8), not \(bits)")
            }
            typeName = "RSA"
        case .ed25519: typeName = "ED25519"
        }
        OpenSSLErrorQueue.clear()
        guard let context = EVP_PKEY_CTX_new_from_name(nil, typeName, nil) else {
            throw PKIError.openSSL(.internalFailure, operation, "no key generator for \(typeName)")
        }
        defer { EVP_PKEY_CTX_free(context) }
        guard EVP_PKEY_keygen_init(context) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot start key generation")
        }
        switch algorithm {
        case .ecdsa(let curve):
            guard EVP_PKEY_CTX_set_group_name(context, curve.rawValue) == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot select curve \(curve.rawValue)")
            }
        case .rsa(let bits):
            guard EVP_PKEY_CTX_set_rsa_keygen_bits(context, Int32(bits)) == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot set modulus size \(bits)")
            }
        case .ed25519: break
        }
        var generated: OpaquePointer?
        guard EVP_PKEY_generate(context, &generated) == 1, let generated else {
            throw PKIError.openSSL(.internalFailure, operation, "key generation failed")
        }
        return try PrivateKey(taking: generated, operation: operation)
    }

    /// Parses a PEM private key: PKCS#8 ("PRIVATE KEY"), SEC1 ("EC PRIVATE KEY") or PKCS#1
    /// ("RSA PRIVATE KEY"). Encrypted keys are rejected as unsupported (certbus encrypts keys
    /// at rest with ``SecretBox`` instead).
    public convenience init(pem: String) throws {
        let operation = "parse private key"
        let blocks: [PEMBlock]
        do {
            blocks = try PEM.blocks(in: pem)
        } catch let error as PKIError {
            throw PKIError(error.kind, operation: operation, message: error.message)
        }
        if blocks.contains(where: { $0.label == "ENCRYPTED PRIVATE KEY" }) {
            throw PKIError(.unsupported, operation: operation, message: "encrypted PKCS#8 keys are not supported")
        }
        let labels = ["PRIVATE KEY", "EC PRIVATE KEY", "RSA PRIVATE KEY"]
        let matching = blocks.filter { labels.contains($0.label) }
        guard let block = matching.first else {
            throw PKIError(.malformedInput, operation: operation,
                           message: "no PEM private key found (expected a BEGIN PRIVATE KEY block)")
        }
        guard matching.count == 1 else {
            throw PKIError(.invalidArgument, operation: operation, message: "expected one private key, found \(matching.count)")
        }
        try self.init(der: block.der, label: block.label)
    }

    /// Parses a DER private key (PKCS#8, or the traditional SEC1/PKCS#1 forms).
    public convenience init(der: Data) throws {
        try self.init(der: der, label: nil)
    }

    private convenience init(der: Data, label: String?) throws {
        let operation = "parse private key"
        let pkey: OpaquePointer
        switch label {
        case "EC PRIVATE KEY":
            pkey = try decodeDER(der, operation, what: "EC private key", free: EVP_PKEY_free) { cursor, length in
                d2i_PrivateKey(EVP_PKEY_EC, nil, cursor, length)
            }
        case "RSA PRIVATE KEY":
            pkey = try decodeDER(der, operation, what: "RSA private key", free: EVP_PKEY_free) { cursor, length in
                d2i_PrivateKey(EVP_PKEY_RSA, nil, cursor, length)
            }
        default:
            pkey = try decodeDER(der, operation, what: "private key", free: EVP_PKEY_free) { cursor, length in
                d2i_AutoPrivateKey(nil, cursor, length)
            }
        }
        OpenSSLErrorQueue.clear()
        try self.init(taking: pkey, operation: operation)
    }

    /// The key as unencrypted PKCS#8 DER.
    public func pkcs8DER() throws -> Data {
        let operation = "encode private key"
        guard let info = EVP_PKEY2PKCS8(pkey) else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot convert the key to PKCS#8")
        }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        return try encodeDER(operation) { i2d_PKCS8_PRIV_KEY_INFO(info, $0) }
    }

    /// The key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY").
    public func pkcs8PEM() throws -> String {
        PEM.encode(try pkcs8DER(), label: "PRIVATE KEY")
    }

    /// The public half.
    public var publicKey: PublicKey {
        EVP_PKEY_up_ref(pkey)
        return PublicKey(sharing: pkey, algorithm: algorithm)
    }

    /// Signs `data`: ECDSA (DER-encoded signature) or RSA PKCS#1 v1.5 over `digest` (default:
    /// the key's ``KeyAlgorithm/defaultDigest``), or pure Ed25519 (`digest` must be nil).
    public func sign(_ data: Data, digest: SignatureDigest? = nil) throws -> Data {
        let operation = "sign with \(algorithm) key"
        let md = try SignatureDigest.resolve(digest, for: algorithm, operation: operation)
        OpenSSLErrorQueue.clear()
        guard let context = EVP_MD_CTX_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestSignInit(context, nil, md, nil, pkey) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot start signing")
        }
        return try withBytes(data) { pointer, count in
            var length = 0
            guard EVP_DigestSign(context, nil, &length, pointer, count) == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot size the signature")
            }
            var signature = Data(count: length)
            let ok = signature.withUnsafeMutableBytes { out in
                EVP_DigestSign(context, out.bindMemory(to: UInt8.self).baseAddress, &length, pointer, count)
            }
            guard ok == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "signing failed")
            }
            signature.count = length
            return signature
        }
    }

    /// Whether `publicKey` is the public half of this key.
    public func matches(_ publicKey: PublicKey) -> Bool {
        EVP_PKEY_eq(pkey, publicKey.pkey) == 1
    }

    /// "PrivateKey(ECDSA P-256)" — never the key material.
    public var description: String { "PrivateKey(\(algorithm))" }
}
