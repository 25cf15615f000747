import Foundation
import Testing
@testable import PKI

@Suite struct KeyTests {
    static let generatedAlgorithms: [KeyAlgorithm] = [.ecdsaP256, .ecdsaP384, .rsa(bits: 2048), .ed25519]

    @Test(arguments: generatedAlgorithms)
    func generateReportsAlgorithm(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        #expect(key.algorithm == algorithm)
        #expect(key.publicKey.algorithm == algorithm)
        #expect(key.description == "PrivateKey(\(algorithm))")
    }

    @Test(arguments: generatedAlgorithms)
    func pemAndDERRoundtrip(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let pem = try key.pkcs8PEM()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let fromPEM = try PrivateKey(pem: pem)
        #expect(fromPEM.algorithm == algorithm)
        #expect(fromPEM.matches(key.publicKey))
        #expect(try fromPEM.pkcs8DER() == key.pkcs8DER())
        let fromDER = try PrivateKey(der: key.pkcs8DER())
        #expect(fromDER.publicKey == key.publicKey)

        let publicPEM = key.publicKey.pem
        #expect(publicPEM.hasPrefix("-----BEGIN PUBLIC KEY-----\n"))
        let publicKey = try PublicKey(pem: publicPEM)
        #expect(publicKey == key.publicKey)
        #expect(try PublicKey(der: key.publicKey.der) == key.publicKey)
        #expect(publicKey.algorithm == algorithm)
    }

    @Test(arguments: generatedAlgorithms)
    func signAndVerify(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let message = Data("checkpoint 42: 9f86d081884c7d65".utf8)
        let signature = try key.sign(message)
        #expect(try key.publicKey.verify(signature: signature, for: message))
        #expect(try !key.publicKey.verify(signature: signature, for: message + Data([0])))
        var tampered = signature
        tampered[tampered.count / 2] ^= 0x01
        #expect(try !key.publicKey.verify(signature: tampered, for: message))
        let other = try PrivateKey.generate(algorithm)
        #expect(try !other.publicKey.verify(signature: signature, for: message))
    }

    @Test func explicitDigestsForECDSAAndRSA() throws {
        for algorithm in [KeyAlgorithm.ecdsaP256, .rsa(bits: 2048)] {
            let key = try PrivateKey.generate(algorithm)
            let message = Data("hello".utf8)
            let signature = try key.sign(message, digest: .sha384)
            #expect(try key.publicKey.verify(signature: signature, for: message, digest: .sha384))
            #expect(try !key.publicKey.verify(signature: signature, for: message, digest: .sha256))
        }
    }

    @Test func ed25519RejectsADigestChoice() throws {
        let key = try PrivateKey.generate(.ed25519)
        let error = try #require(throws: PKIError.self) { try key.sign(Data("x".utf8), digest: .sha256) }
        #expect(error.kind == .invalidArgument)
    }

    @Test func ed25519RawPublicKeyRoundtrip() throws {
        let key = try PrivateKey.generate(.ed25519)
        let raw = try #require(key.publicKey.rawEd25519)
        #expect(raw.count == 32)
        let restored = try PublicKey(rawEd25519: raw)
        let message = Data("audit checkpoint".utf8)
        #expect(try restored.verify(signature: key.sign(message), for: message))
        #expect(throws: PKIError.self) { try PublicKey(rawEd25519: Data(count: 31)) }
        #expect(try PrivateKey.generate(.ecdsaP256).publicKey.rawEd25519 == nil)
    }

    @Test(arguments: [1024, 2047, 2049, 8192])
    func rejectsUnsupportedRSASizes(_ bits: Int) throws {
        let error = try #require(throws: PKIError.self) { try PrivateKey.generate(.rsa(bits: bits)) }
        #expect(error.kind == .invalidArgument)
        #expect(error.description.contains("2048"))
    }

    @Test func rsa3072IsAccepted() throws {
        let key = try PrivateKey.generate(.rsa(bits: 3072))
        #expect(key.algorithm == .rsa(bits: 3072))
        #expect(key.algorithm.bits == 3072)
    }

    @Test func parsesTraditionalAndOpenSSLGeneratedKeys() throws {
        let scratch = try ScratchDirectory()
        let ecPath = scratch.path("ec.pem")
        try OpenSSLTool.run(["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out", ecPath])
        let ecText = try readText(ecPath)
        #expect(ecText.contains("BEGIN EC PRIVATE KEY"))
        #expect(try PrivateKey(pem: ecText).algorithm == .ecdsaP384)

        let rsaPath = scratch.path("rsa.pem")
        try OpenSSLTool.run(["genrsa", "-traditional", "-out", rsaPath, "2048"])
        let rsaText = try readText(rsaPath)
        #expect(rsaText.contains("BEGIN RSA PRIVATE KEY"))
        #expect(try PrivateKey(pem: rsaText).algorithm == .rsa(bits: 2048))
    }

    @Test func ourPKCS8IsReadableByOpenSSL() throws {
        let scratch = try ScratchDirectory()
        let key = try PrivateKey.generate(.ecdsaP256)
        let path = try scratch.write(try key.pkcs8PEM(), to: "key.pem")
        let result = try OpenSSLTool.run(["pkey", "-in", path, "-pubout"])
        #expect(result.status == 0, "\(result.combined)")
        #expect(try PublicKey(pem: result.output) == key.publicKey)
    }

    @Test func garbageKeyInputIsRejectedClearly() throws {
        let noPEM = try #require(throws: PKIError.self) { try PrivateKey(pem: "hello world") }
        #expect(noPEM.kind == .malformedInput)
        #expect(noPEM.description.contains("no PEM private key"))

        let badBase64 = try #require(throws: PKIError.self) {
            try PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\n!!!notbase64\n-----END PRIVATE KEY-----\n")
        }
        #expect(badBase64.kind == .malformedInput)

        let notAKey = try #require(throws: PKIError.self) {
            try PrivateKey(pem: PEM.encode(Data("definitely not DER".utf8), label: "PRIVATE KEY"))
        }
        #expect(notAKey.kind == .malformedInput)
        #expect(notAKey.openSSLReason != nil)

        let empty = try #require(throws: PKIError.self) { try PrivateKey(der: Data()) }
        #expect(empty.kind == .malformedInput)

        let encrypted = try #require(throws: PKIError.self) {
            try PrivateKey(pem: PEM.encode(Data([0x30, 0x00]), label: "ENCRYPTED PRIVATE KEY"))
        }
        #expect(encrypted.kind == .unsupported)
    }

    @Test func trailingBytesAfterDERAreRejected() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let error = try #require(throws: PKIError.self) { try PrivateKey(der: key.pkcs8DER() + Data([0, 0])) }
        #expect(error.message.contains("trailing"))
    }

    @Test func errorsNeverContainKeyMaterial() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        var der = try key.pkcs8DER()
        der[der.count - 40] ^= 0xff
        let pem = PEM.encode(der + Data([1, 2, 3]), label: "PRIVATE KEY")
        let error = try #require(throws: PKIError.self) { try PrivateKey(pem: pem) }
        let body = pem.split(separator: "\n").dropFirst().first.map(String.init) ?? ""
        #expect(!error.description.contains(body))
        #expect(!error.description.contains(Hex.encode(der.suffix(32))))
    }

    @Test func unsupportedKeyTypesAreNamed() throws {
        let scratch = try ScratchDirectory()
        let path = scratch.path("ed448.pem")
        try OpenSSLTool.run(["genpkey", "-algorithm", "ED448", "-out", path])
        let error = try #require(throws: PKIError.self) { try PrivateKey(pem: readText(path)) }
        #expect(error.kind == .unsupported)
        #expect(error.message.contains("ED448"))
    }
}
