import Foundation
import PKI

/// Builds the flattened JWS JSON bodies of ACME requests (RFC 8555 §6.2, RFC 7515 §7.2.2).
enum ACMEJWS {
    /// How the protected header names the signing key.
    enum KeyReference: Sendable, Equatable {
        /// The full public key; only for newAccount (and revocation by certificate key).
        case jwk(JSONWebKey)
        /// The account URL; every request after the account exists.
        case kid(URL)
    }

    struct ProtectedHeader: Encodable {
        var alg: String
        var jwk: JSONWebKey?
        var kid: String?
        var nonce: String
        var url: String
    }

    struct Body: Encodable {
        var protected: String
        var payload: String
        var signature: String
    }

    /// Signs `payload` for `url` with `key` and returns the `application/jose+json` body.
    /// A nil payload gives POST-as-GET (an empty payload string, RFC 8555 §6.3).
    static func sign(
        payload: Data?, url: URL, nonce: String, key: PrivateKey, keyReference: KeyReference
    ) throws -> Data {
        var header = ProtectedHeader(alg: key.jwsAlgorithm.rawValue, nonce: nonce, url: url.absoluteString)
        switch keyReference {
        case .jwk(let jwk): header.jwk = jwk
        case .kid(let account): header.kid = account.absoluteString
        }
        let protected = Base64URL.encode(try encoder.encode(header))
        let encodedPayload = payload.map(Base64URL.encode) ?? ""
        let signingInput = Data("\(protected).\(encodedPayload)".utf8)
        let signature = try key.jwsSignature(for: signingInput)
        return try encoder.encode(
            Body(protected: protected, payload: encodedPayload, signature: Base64URL.encode(signature)))
    }

    /// Compact, key-sorted JSON without escaped slashes.
    static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
