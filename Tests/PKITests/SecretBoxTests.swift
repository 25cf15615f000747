import Foundation
import Testing
@testable import PKI

@Suite struct SecretBoxTests {
    @Test func sealAndOpen() throws {
        let box = SecretBox(key: try .generate())
        for plaintext in [Data(), Data("-----BEGIN PRIVATE KEY-----\nMIGHAgEA...".utf8), Data(repeating: 7, count: 10_000)] {
            let sealed = try box.seal(plaintext)
            #expect(sealed.count == plaintext.count + SecretBox.overhead)
            #expect(sealed.first == SecretBox.version)
            #expect(try box.open(sealed) == plaintext)
        }
    }

    @Test func sealingTwiceUsesFreshNonces() throws {
        let box = SecretBox(key: try .generate())
        let plaintext = Data("same".utf8)
        #expect(try box.seal(plaintext) != box.seal(plaintext))
    }

    @Test func wrongKeyFails() throws {
        let sealed = try SecretBox(key: .generate()).seal(Data("ca key".utf8))
        let error = try #require(throws: PKIError.self) { try SecretBox(key: .generate()).open(sealed) }
        #expect(error.kind == .authenticationFailed)
    }

    @Test func everyTamperedByteFails() throws {
        let box = SecretBox(key: try .generate())
        let sealed = try box.seal(Data("abc".utf8))
        for index in 1..<sealed.count {
            var tampered = sealed
            tampered[index] ^= 0x01
            let error = try #require(throws: PKIError.self) { try box.open(tampered) }
            #expect(error.kind == .authenticationFailed)
        }
    }

    @Test func additionalDataIsBound() throws {
        let box = SecretBox(key: try .generate())
        let sealed = try box.seal(Data("secret".utf8), additionalData: Data("ca:17".utf8))
        #expect(try box.open(sealed, additionalData: Data("ca:17".utf8)) == Data("secret".utf8))
        #expect(throws: PKIError.self) { try box.open(sealed, additionalData: Data("ca:18".utf8)) }
        #expect(throws: PKIError.self) { try box.open(sealed) }
    }

    @Test func malformedBoxesAreRejected() throws {
        let box = SecretBox(key: try .generate())
        let short = try #require(throws: PKIError.self) { try box.open(Data([1, 2, 3])) }
        #expect(short.kind == .malformedInput)
        var sealed = try box.seal(Data("x".utf8))
        sealed[0] = 9
        let version = try #require(throws: PKIError.self) { try box.open(sealed) }
        #expect(version.kind == .unsupported)
        // A slice with a non-zero start index opens like any other Data.
        let framed = Data([0xff]) + (try box.seal(Data("y".utf8)))
        #expect(try box.open(framed.dropFirst()) == Data("y".utf8))
    }

    @Test func keysAreValidatedAndNeverPrinted() throws {
        #expect(throws: PKIError.self) { try SecretBox.Key(bytes: Data(count: 16)) }
        #expect(throws: PKIError.self) { try SecretBox.Key(base64: "not base64!") }
        let key = try SecretBox.Key.generate()
        #expect(try SecretBox.Key(base64: key.base64) == key)
        #expect(key.description == "SecretBox.Key(redacted)")
        #expect(!String(describing: key).contains(key.base64))
        #expect(!String(reflecting: SecretBox(key: key)).contains(key.base64))
    }

    @Test func sealedPrivateKeyRoundtrip() throws {
        let kek = try SecretBox.Key.generate()
        let caKey = try PrivateKey.generate(.ecdsaP384)
        let sealed = try SecretBox(key: kek).seal(caKey.pkcs8DER(), additionalData: Data("ca-key:1".utf8))
        let restored = try PrivateKey(der: SecretBox(key: kek).open(sealed, additionalData: Data("ca-key:1".utf8)))
        #expect(restored.matches(caKey.publicKey))
    }
}
