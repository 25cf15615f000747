import Foundation
import Testing
@testable import PKI

@Suite struct HashingTests {
    @Test func sha256KnownAnswers() {
        #expect(SHA256.hexDigest(Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hexDigest(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hash("abc") == SHA256.hash(Data("abc".utf8)))
        #expect(Hex.encode(SHA384.hash(Data("abc".utf8))).hasPrefix("cb00753f45a35e8bb5a03d699ac65007"))
    }

    /// RFC 4231 test cases 1 and 2.
    @Test func hmacSHA256KnownAnswers() {
        let key1 = Data(repeating: 0x0b, count: 20)
        #expect(Hex.encode(HMAC.sha256(key: key1, data: Data("Hi There".utf8)))
            == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
        let mac = HMAC.sha256(key: Data("Jefe".utf8), data: Data("what do ya want for nothing?".utf8))
        #expect(Hex.encode(mac) == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        #expect(HMAC.isValidSHA256(mac, key: Data("Jefe".utf8), data: Data("what do ya want for nothing?".utf8)))
        #expect(!HMAC.isValidSHA256(mac, key: Data("Jeff".utf8), data: Data("what do ya want for nothing?".utf8)))
        #expect(!HMAC.isValidSHA256(mac.prefix(31), key: Data("Jefe".utf8), data: Data("what do ya want for nothing?".utf8)))
    }

    @Test func secureRandom() throws {
        #expect(try SecureRandom.bytes(0).isEmpty)
        let a = try SecureRandom.bytes(32)
        let b = try SecureRandom.bytes(32)
        #expect(a.count == 32)
        #expect(a != b)
        #expect(throws: PKIError.self) { try SecureRandom.bytes(-1) }
    }

    @Test func constantTimeEquality() {
        #expect(ConstantTime.equals(Data([1, 2, 3]), Data([1, 2, 3])))
        #expect(!ConstantTime.equals(Data([1, 2, 3]), Data([1, 2, 4])))
        #expect(!ConstantTime.equals(Data([1, 2]), Data([1, 2, 3])))
        #expect(ConstantTime.equals(Data(), Data()))
    }

    @Test func errorDescriptionsCarryOperationAndReason() {
        let error = PKIError(.malformedInput, operation: "parse thing", message: "bad", openSSLReason: "error:1234:asn1")
        #expect(error.description == "parse thing: bad (OpenSSL: error:1234:asn1)")
    }
}
