import COpenSSL
import Foundation

/// A JSON Web Signature algorithm (RFC 7518 / RFC 8037) matching a certbus key.
public enum JWSAlgorithm: String, Sendable, Hashable, CaseIterable {
    /// ECDSA P-256 with SHA-256, raw `r || s` signature.
    case es256 = "ES256"
    /// ECDSA P-384 with SHA-384, raw `r || s` signature.
    case es384 = "ES384"
    /// ECDSA P-521 with SHA-512, raw `r || s` signature.
    case es512 = "ES512"
    /// RSA PKCS#1 v1.5 with SHA-256.
    case rs256 = "RS256"
    /// Ed25519.
    case edDSA = "EdDSA"

    /// The JWS algorithm for a key of `algorithm`.
    public init(for algorithm: KeyAlgorithm) {
        switch algorithm {
        case .ecdsa(.p256): self = .es256
        case .ecdsa(.p384): self = .es384
        case .ecdsa(.p521): self = .es512
        case .rsa: self = .rs256
        case .ed25519: self = .edDSA
        }
    }

    var digest: SignatureDigest? {
        switch self {
        case .es256, .rs256: .sha256
        case .es384: .sha384
        case .es512: .sha512
        case .edDSA: nil
        }
    }
}

/// A public JSON Web Key (RFC 7517) with only the required members, as ACME uses it.
///
/// Encodes to JSON as a flat object; ``canonicalJSON`` is the RFC 7638 thumbprint input.
public struct JSONWebKey: Sendable, Hashable, Encodable {
    /// The members, all strings: kty, crv/x/y (EC), n/e (RSA), crv/x (OKP).
    public let members: [String: String]

    /// The members in lexicographic order with no whitespace (RFC 7638 §3.3).
    public var canonicalJSON: String {
        let body = members.keys.sorted().map { key in "\"\(key)\":\"\(members[key]!)\"" }
        return "{" + body.joined(separator: ",") + "}"
    }

    /// The RFC 7638 thumbprint: base64url(SHA-256(canonical JSON)).
    public var thumbprint: String {
        Base64URL.encode(SHA256.hash(canonicalJSON))
    }

    /// Encodes the members as one JSON object.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: MemberKey.self)
        for key in members.keys.sorted() {
            try container.encode(members[key]!, forKey: MemberKey(stringValue: key))
        }
    }

    private struct MemberKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
}

extension PublicKey {
    /// The key's JWK: EC {crv, kty, x, y}, RSA {e, kty, n}, Ed25519 {crv, kty: OKP, x}.
    public func jsonWebKey() throws -> JSONWebKey {
        let operation = "build JWK"
        switch algorithm {
        case .ecdsa(let curve):
            let x = try bigNumberParameter(OSSL_PKEY_PARAM_EC_PUB_X, padTo: curve.coordinateByteCount, operation)
            let y = try bigNumberParameter(OSSL_PKEY_PARAM_EC_PUB_Y, padTo: curve.coordinateByteCount, operation)
            return JSONWebKey(members: ["kty": "EC", "crv": curve.rawValue,
                                        "x": Base64URL.encode(x), "y": Base64URL.encode(y)])
        case .rsa:
            let n = try bigNumberParameter(OSSL_PKEY_PARAM_RSA_N, padTo: nil, operation)
            let e = try bigNumberParameter(OSSL_PKEY_PARAM_RSA_E, padTo: nil, operation)
            return JSONWebKey(members: ["kty": "RSA", "n": Base64URL.encode(n), "e": Base64URL.encode(e)])
        case .ed25519:
            guard let raw = rawEd25519 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot read the Ed25519 public key")
            }
            return JSONWebKey(members: ["kty": "OKP", "crv": "Ed25519", "x": Base64URL.encode(raw)])
        }
    }

    /// The RFC 7638 JWK thumbprint (base64url SHA-256), as used in ACME key authorizations.
    public func jwkThumbprint() throws -> String {
        try jsonWebKey().thumbprint
    }

    /// Verifies a JWS signature made by ``PrivateKey/jwsSignature(for:)``: raw `r || s` for
    /// ECDSA, PKCS#1 v1.5 SHA-256 for RSA, Ed25519. False on a wrong or malformed signature.
    public func verifyJWSSignature(_ signature: Data, for signingInput: Data) throws -> Bool {
        let jws = JWSAlgorithm(for: algorithm)
        var toVerify = signature
        if case .ecdsa(let curve) = algorithm {
            guard let der = try? ECDSASignatureFormat.der(fromRaw: signature, curve: curve) else { return false }
            toVerify = der
        }
        return try verify(signature: toVerify, for: signingInput, digest: jws.digest)
    }

    private func bigNumberParameter(_ name: String, padTo width: Int?, _ operation: String) throws -> Data {
        var bn: OpaquePointer?
        guard EVP_PKEY_get_bn_param(pkey, name, &bn) == 1, let bn else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot read key parameter \(name)")
        }
        defer { BN_free(bn) }
        let size = width ?? Int((BN_num_bits(bn) + 7) / 8)
        var out = Data(count: size)
        let written = out.withUnsafeMutableBytes { raw in
            BN_bn2binpad(bn, raw.bindMemory(to: UInt8.self).baseAddress, Int32(size))
        }
        guard written == size else {
            throw PKIError.openSSL(.internalFailure, operation, "key parameter \(name) does not fit")
        }
        return out
    }
}

extension PrivateKey {
    /// The JWS algorithm this key signs with.
    public var jwsAlgorithm: JWSAlgorithm { JWSAlgorithm(for: algorithm) }

    /// Signs a JWS signing input (`base64url(header).base64url(payload)`) in JOSE form:
    /// ES256/ES384/ES512 as raw `r || s` (64/96/132 bytes), RS256, or EdDSA.
    public func jwsSignature(for signingInput: Data) throws -> Data {
        let jws = jwsAlgorithm
        let signature = try sign(signingInput, digest: jws.digest)
        if case .ecdsa(let curve) = algorithm {
            return try ECDSASignatureFormat.raw(fromDER: signature, curve: curve)
        }
        return signature
    }
}
