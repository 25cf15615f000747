import Foundation
import Testing
@testable import PKI

@Suite struct JWSTests {
    @Test func es256SignatureIsRawAndVerifies() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        #expect(key.jwsAlgorithm == .es256)
        let input = Data("eyJhbGciOiJFUzI1NiJ9.eyJoZWxsbyI6IndvcmxkIn0".utf8)
        let signature = try key.jwsSignature(for: input)
        #expect(signature.count == 64)
        #expect(try key.publicKey.verifyJWSSignature(signature, for: input))
        var tampered = signature
        tampered[10] ^= 0x80
        #expect(try !key.publicKey.verifyJWSSignature(tampered, for: input))
        #expect(try !key.publicKey.verifyJWSSignature(signature.prefix(63), for: input))

        // The raw form converts back to the DER form OpenSSL verifies.
        let der = try ECDSASignatureFormat.der(fromRaw: signature, curve: .p256)
        #expect(try key.publicKey.verify(signature: der, for: input, digest: .sha256))
    }

    @Test func es256VerifiesWithOpenSSLCLI() throws {
        let scratch = try ScratchDirectory()
        let key = try PrivateKey.generate(.ecdsaP256)
        let input = Data("protected.payload".utf8)
        let raw = try key.jwsSignature(for: input)
        let der = try ECDSASignatureFormat.der(fromRaw: raw, curve: .p256)
        let keyPath = try scratch.write(key.publicKey.pem, to: "pub.pem")
        let sigPath = try scratch.write(der, to: "sig.der")
        let dataPath = try scratch.write(input, to: "data")
        let result = try OpenSSLTool.run(["dgst", "-sha256", "-verify", keyPath, "-signature", sigPath, dataPath])
        #expect(result.output.contains("Verified OK"), "\(result.combined)")
    }

    @Test func otherAlgorithmsSignInJOSEForm() throws {
        let input = Data("a.b".utf8)
        for (algorithm, jws, length) in [(KeyAlgorithm.ecdsaP384, JWSAlgorithm.es384, 96), (.ed25519, .edDSA, 64), (.rsa(bits: 2048), .rs256, 256)] {
            let key = try PrivateKey.generate(algorithm)
            #expect(key.jwsAlgorithm == jws)
            let signature = try key.jwsSignature(for: input)
            #expect(signature.count == length)
            #expect(try key.publicKey.verifyJWSSignature(signature, for: input))
        }
    }

    @Test func ecJWKHasPaddedCoordinatesAndThumbprint() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let jwk = try key.publicKey.jsonWebKey()
        #expect(jwk.members["kty"] == "EC")
        #expect(jwk.members["crv"] == "P-256")
        #expect(Base64URL.decode(jwk.members["x"]!)?.count == 32)
        #expect(Base64URL.decode(jwk.members["y"]!)?.count == 32)
        #expect(jwk.canonicalJSON.hasPrefix("{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\""))
        // x and y are the uncompressed point in the SubjectPublicKeyInfo (its last 64 bytes).
        let spki = key.publicKey.der
        #expect(Base64URL.decode(jwk.members["x"]!)! + Base64URL.decode(jwk.members["y"]!)! == spki.suffix(64))
        #expect(try key.publicKey.jwkThumbprint() == Base64URL.encode(SHA256.hash(jwk.canonicalJSON)))
    }

    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    @Test func rsaThumbprintMatchesRFC7638Example() throws {
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
        let key = try rsaPublicKey(modulusBase64URL: n, exponent: [1, 0, 1])
        let jwk = try key.jsonWebKey()
        #expect(jwk.members == ["kty": "RSA", "n": n, "e": "AQAB"])
        #expect(try key.jwkThumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test func jwkEncodesAsFlatJSON() throws {
        let key = try PrivateKey.generate(.ed25519)
        let jwk = try key.publicKey.jsonWebKey()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(jwk), as: UTF8.self)
        #expect(json == jwk.canonicalJSON)
        #expect(jwk.members["kty"] == "OKP")
    }

    /// Builds an RSA SubjectPublicKeyInfo by hand (DER) from a modulus and exponent.
    private func rsaPublicKey(modulusBase64URL: String, exponent: [UInt8]) throws -> PublicKey {
        func length(_ n: Int) -> [UInt8] {
            if n < 0x80 { return [UInt8(n)] }
            if n < 0x100 { return [0x81, UInt8(n)] }
            return [0x82, UInt8(n >> 8), UInt8(n & 0xff)]
        }
        func tlv(_ tag: UInt8, _ body: [UInt8]) -> [UInt8] { [tag] + length(body.count) + body }
        var modulus = [UInt8](Base64URL.decode(modulusBase64URL)!)
        if modulus[0] & 0x80 != 0 { modulus.insert(0, at: 0) }
        let rsaKey = tlv(0x30, tlv(0x02, modulus) + tlv(0x02, exponent))
        let algorithm: [UInt8] = [0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00]
        let spki = tlv(0x30, algorithm + tlv(0x03, [0] + rsaKey))
        return try PublicKey(der: Data(spki))
    }
}
