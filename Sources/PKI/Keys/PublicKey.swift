import COpenSSL
import Foundation

/// A public key (ECDSA, RSA or Ed25519). Immutable and safe to share between threads.
public final class PublicKey: @unchecked Sendable, Equatable, CustomStringConvertible {
    let pkey: OpaquePointer
    /// The key's type and size.
    public let algorithm: KeyAlgorithm
    /// The already-encoded SubjectPublicKeyInfo this key was decoded from, when known (keys from
    /// a CSR): issuance copies it instead of re-encoding the key, which is slow in OpenSSL 3.0.
    let encodedInfo: EncodedPublicKeyInfo?

    /// Shares an already referenced `pkey` (the caller transferred one reference).
    init(sharing pkey: OpaquePointer, algorithm: KeyAlgorithm) {
        self.pkey = pkey
        self.algorithm = algorithm
        encodedInfo = nil
    }

    /// Takes ownership of `pkey`, freeing it if its type is unsupported.
    init(taking pkey: OpaquePointer, operation: String, encodedInfo: EncodedPublicKeyInfo? = nil) throws {
        do {
            algorithm = try KeyAlgorithm.of(pkey, operation: operation)
        } catch {
            EVP_PKEY_free(pkey)
            throw error
        }
        self.pkey = pkey
        self.encodedInfo = encodedInfo
    }

    deinit { EVP_PKEY_free(pkey) }

    /// Parses a DER SubjectPublicKeyInfo.
    public convenience init(der: Data) throws {
        let operation = "parse public key"
        let pkey = try decodeDER(der, operation, what: "SubjectPublicKeyInfo", free: EVP_PKEY_free) { cursor, length in
            d2i_PUBKEY(nil, cursor, length)
        }
        try self.init(taking: pkey, operation: operation)
    }

    /// Parses a PEM SubjectPublicKeyInfo ("BEGIN PUBLIC KEY").
    public convenience init(pem: String) throws {
        let block = try PEM.singleBlock(in: pem, labels: ["PUBLIC KEY"], what: "public key", operation: "parse public key")
        try self.init(der: block.der)
    }

    /// An Ed25519 public key from its raw 32 bytes (RFC 8032 encoding).
    public convenience init(rawEd25519 bytes: Data) throws {
        let operation = "load Ed25519 public key"
        guard bytes.count == 32 else {
            throw PKIError(.invalidArgument, operation: operation, message: "an Ed25519 public key is 32 bytes, not \(bytes.count)")
        }
        let pkey = try withBytes(bytes) { pointer, count -> OpaquePointer in
            guard let key = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nil, pointer, count) else {
                throw PKIError.openSSL(.malformedInput, operation, "not a valid Ed25519 public key")
            }
            return key
        }
        try self.init(taking: pkey, operation: operation)
    }

    /// The DER SubjectPublicKeyInfo.
    public var der: Data {
        // i2d_PUBKEY cannot fail for a key OpenSSL already holds, short of memory exhaustion.
        (try? encodeDER("encode public key") { i2d_PUBKEY(pkey, $0) }) ?? Data()
    }

    /// The PEM SubjectPublicKeyInfo ("BEGIN PUBLIC KEY").
    public var pem: String { PEM.encode(der, label: "PUBLIC KEY") }

    /// The raw 32-byte Ed25519 public key; nil for other key types.
    public var rawEd25519: Data? {
        guard algorithm == .ed25519 else { return nil }
        var out = Data(count: 32)
        var length = 32
        let ok = out.withUnsafeMutableBytes { raw in
            EVP_PKEY_get_raw_public_key(pkey, raw.bindMemory(to: UInt8.self).baseAddress, &length)
        }
        return ok == 1 && length == 32 ? out : nil
    }

    /// SHA-256 of the DER SubjectPublicKeyInfo, lowercase hex: a stable key identifier.
    public var sha256Fingerprint: String { SHA256.hexDigest(der) }

    /// Whether `signature` is a valid signature of `data` by this key: ECDSA (DER) or RSA
    /// PKCS#1 v1.5 over `digest` (default: the key's default digest), or Ed25519 (`digest` nil).
    /// A wrong signature gives false; only an impossible `digest` choice throws.
    public func verify(signature: Data, for data: Data, digest: SignatureDigest? = nil) throws -> Bool {
        let operation = "verify \(algorithm) signature"
        let md = try SignatureDigest.resolve(digest, for: algorithm, operation: operation)
        guard let context = EVP_MD_CTX_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { EVP_MD_CTX_free(context) }
        guard EVP_DigestVerifyInit(context, nil, md, nil, pkey) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot start verification")
        }
        let result = withBytes(signature) { sig, sigCount in
            withBytes(data) { pointer, count in
                EVP_DigestVerify(context, sig, sigCount, pointer, count)
            }
        }
        OpenSSLErrorQueue.clear()
        return result == 1
    }

    /// Whether both are the same public key.
    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        EVP_PKEY_eq(lhs.pkey, rhs.pkey) == 1
    }

    /// "PublicKey(ECDSA P-256)".
    public var description: String { "PublicKey(\(algorithm))" }
}
