import Foundation
import Testing
@testable import PKI

/// ECDSA requests decoded without `d2i_X509_REQ` (``ECRequestDecoder``): the same subject, names,
/// key and signature verdict as OpenSSL's decoding, every other shape left to OpenSSL, and strict
/// DER. No database.
@Suite struct ECRequestDecoderTests {
    static let subject = DistinguishedName(commonName: "www.example.com", organization: "Example Ltd", country: "GB")
    static let sans: [SubjectAlternativeName] = [
        .dnsName("www.example.com"), .dnsName("example.com"), .ipAddress(IPAddress("127.0.0.1")!), .ipAddress(IPAddress("::1")!),
    ]

    /// Both decodings of `der` agree on everything a CSR exposes.
    func expectSameAsOpenSSL(_ der: Data) throws {
        let fast = try CertificateSigningRequest(der: der)
        let slow = try CertificateSigningRequest(openSSLDecoding: der)
        #expect(fast.subject == slow.subject)
        #expect(fast.subjectAlternativeNames == slow.subjectAlternativeNames)
        #expect(fast.publicKey == slow.publicKey)
        #expect(fast.publicKeyAlgorithm == slow.publicKeyAlgorithm)
        #expect(fast.isSignatureValid == slow.isSignatureValid)
        #expect(fast.der == slow.der)
    }

    @Test(arguments: [KeyAlgorithm.ecdsaP256, .ecdsaP384])
    func decodesOurRequestsLikeOpenSSL(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        for sans in [Self.sans, [], [SubjectAlternativeName.dnsName("only.example")]] {
            let csr = try CertificateSigningRequest.create(key: key, subject: Self.subject, subjectAlternativeNames: sans)
            #expect(ECRequestDecoder.decode([UInt8](csr.der)) != nil)
            try expectSameAsOpenSSL(csr.der)
            let parsed = try CertificateSigningRequest(der: csr.der)
            #expect(parsed.isSignatureValid)
            #expect(parsed.subjectAlternativeNames == sans)
            #expect(parsed.publicKey == key.publicKey)
        }
    }

    @Test func decodesOpenSSLsOwnRequestsLikeOpenSSL() throws {
        let scratch = try ScratchDirectory()
        for (curve, digest) in [("prime256v1", "-sha256"), ("secp384r1", "-sha384"), ("prime256v1", "-sha512")] {
            let key = scratch.path("\(curve).key"), request = scratch.path("\(curve)\(digest).csr")
            #expect(try OpenSSLTool.run(["ecparam", "-name", curve, "-genkey", "-noout", "-out", key]).status == 0)
            let made = try OpenSSLTool.run([
                "req", "-new", "-key", key, digest, "-outform", "DER", "-out", request,
                "-subj", "/C=DE/ST=Berlin/O=Acme GmbH/OU=Ops/CN=api.acme.test", "-addext", "subjectAltName=DNS:api.acme.test,IP:10.1.2.3",
            ])
            #expect(made.status == 0, "\(made.combined)")
            let der = try Data(contentsOf: URL(fileURLWithPath: request))
            #expect(ECRequestDecoder.decode([UInt8](der)) != nil, "\(curve) \(digest)")
            try expectSameAsOpenSSL(der)
            #expect(try CertificateSigningRequest(der: der).isSignatureValid)
        }
    }

    @Test(arguments: [KeyAlgorithm.rsa(bits: 2048), .ed25519])
    func leavesOtherKeysToOpenSSL(_ algorithm: KeyAlgorithm) throws {
        let csr = try CertificateSigningRequest.create(key: try PrivateKey.generate(algorithm), subject: Self.subject, subjectAlternativeNames: Self.sans)
        #expect(ECRequestDecoder.decode([UInt8](csr.der)) == nil)
        let parsed = try CertificateSigningRequest(der: csr.der)
        #expect(parsed.isSignatureValid && parsed.subjectAlternativeNames == Self.sans)
    }

    @Test func aChangedSignatureOrChangedRequestDoesNotVerify() throws {
        let csr = try CertificateSigningRequest.create(key: try PrivateKey.generate(.ecdsaP256), subject: Self.subject,
                                                      subjectAlternativeNames: Self.sans)
        var bytes = [UInt8](csr.der)
        let parts = try #require(ECRequestDecoder.decode(bytes))
        // The last byte of s, and a byte of the subject's common name (same length, still a valid name).
        var badSignature = bytes
        badSignature[parts.signature.upperBound - 1] ^= 0x01
        var badName = bytes
        let cn = try #require(findSubsequence(Array("www.example.com".utf8), in: bytes))
        badName[cn] = UInt8(ascii: "x")
        for tampered in [badSignature, badName] {
            #expect(ECRequestDecoder.decode(tampered) != nil)
            try expectSameAsOpenSSL(Data(tampered))
            #expect(try CertificateSigningRequest(der: Data(tampered)).isSignatureValid == false)
            #expect(throws: PKIError.self) { try CertificateSigningRequest(der: Data(tampered)).verifySignature() }
        }
        // A point off the curve is refused as a malformed key.
        bytes[parts.point.upperBound - 1] ^= 0x01
        #expect(throws: PKIError.self) { try CertificateSigningRequest(der: Data(bytes)) }
    }

    @Test func malformedDERIsLeftToOpenSSLWhichRefusesIt() throws {
        let der = try CertificateSigningRequest.create(key: try PrivateKey.generate(.ecdsaP256), subject: Self.subject,
                                                      subjectAlternativeNames: Self.sans).der
        for broken in [Data(der.dropLast()), der + Data([0]), Data([0x30, 0x80]) + der.dropFirst(2), Data()] {
            #expect(ECRequestDecoder.decode([UInt8](broken)) == nil)
            #expect(throws: PKIError.self) { try CertificateSigningRequest(der: broken) }
        }
    }

    @Test func theReaderIsStrict() throws {
        #expect(try DERReader.root([0x04, 0x02, 0xaa, 0xbb]) == DERElement(tag: 0x04, start: 0, contentStart: 2, end: 4))
        #expect(try DERReader.root([0x04, 0x81, 0x80] + [UInt8](repeating: 1, count: 0x80)).content == 3..<131)
        for bad: [UInt8] in [[0x04, 0x81, 0x02, 0xaa, 0xbb],  // long form where the short one fits
                             [0x04, 0x82, 0x00, 0x81] + [UInt8](repeating: 1, count: 0x81),  // leading zero length octet
                             [0x30, 0x80, 0x00, 0x00],  // indefinite length
                             [0x1f, 0x81, 0x01, 0x00],  // multi-byte tag
                             [0x04, 0x03, 0xaa],  // longer than the input
                             [0x04, 0x01, 0xaa, 0xbb]]  // trailing byte
        {
            #expect(throws: DERReader.Malformed.self) { try DERReader.root(bad) }
        }
        #expect(throws: DERReader.Malformed.self) { try DERReader.children([0x04, 0x00], of: try DERReader.root([0x04, 0x00])) }
    }
}

private func findSubsequence(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
    guard needle.count <= haystack.count else { return nil }
    return (0...(haystack.count - needle.count)).first { haystack[$0..<($0 + needle.count)].elementsEqual(needle) }
}
