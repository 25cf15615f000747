import Foundation
import Testing
@testable import PKI

@Suite struct CSRTests {
    static let subject = DistinguishedName(commonName: "www.example.com", organization: "Example Ltd", country: "GB")
    static let sans: [SubjectAlternativeName] = [
        .dnsName("www.example.com"), .dnsName("example.com"), .ipAddress(IPAddress("127.0.0.1")!),
        .ipAddress(IPAddress("::1")!),
    ]

    @Test(arguments: KeyTests.generatedAlgorithms)
    func createParseVerify(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let csr = try CertificateSigningRequest.create(key: key, subject: Self.subject, subjectAlternativeNames: Self.sans)
        #expect(csr.isSignatureValid)
        try csr.verifySignature()

        let parsed = try CertificateSigningRequest(pem: csr.pem)
        #expect(parsed.der == csr.der)
        #expect(parsed.subject == Self.subject)
        #expect(parsed.commonName == "www.example.com")
        #expect(parsed.subjectAlternativeNames == Self.sans)
        #expect(parsed.publicKeyAlgorithm == algorithm)
        #expect(parsed.publicKey == key.publicKey)
        #expect(parsed.isSignatureValid)
        #expect(try CertificateSigningRequest(der: csr.der).subjectAlternativeNames == Self.sans)
    }

    @Test func openSSLAcceptsOurCSR() throws {
        let scratch = try ScratchDirectory()
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(key: key, subject: Self.subject, subjectAlternativeNames: Self.sans)
        let path = try scratch.write(csr.pem, to: "req.pem")
        let result = try OpenSSLTool.run(["req", "-in", path, "-noout", "-verify", "-text"])
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.combined.contains("verify OK") || result.combined.contains("Certificate request self-signature verify OK"))
        #expect(result.output.contains("DNS:www.example.com, DNS:example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"))
    }

    @Test func parsesOpenSSLGeneratedCSR() throws {
        let scratch = try ScratchDirectory()
        let keyPath = scratch.path("key.pem")
        let reqPath = scratch.path("req.pem")
        let result = try OpenSSLTool.run([
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", keyPath, "-out", reqPath,
            "-subj", "/C=US/O=Acme/CN=api.acme.test", "-addext", "subjectAltName=DNS:api.acme.test,IP:10.1.2.3",
        ])
        #expect(result.status == 0, "\(result.combined)")
        let csr = try CertificateSigningRequest(pem: readText(reqPath))
        #expect(csr.subject.description == "CN=api.acme.test,O=Acme,C=US")
        #expect(csr.subjectAlternativeNames == [.dnsName("api.acme.test"), .ipAddress(IPAddress("10.1.2.3")!)])
        #expect(csr.publicKeyAlgorithm == .rsa(bits: 2048))
        #expect(csr.isSignatureValid)
    }

    @Test func csrWithoutSANs() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(key: key, subject: Self.subject, subjectAlternativeNames: [])
        #expect(try CertificateSigningRequest(der: csr.der).subjectAlternativeNames.isEmpty)
    }

    @Test(arguments: KeyTests.generatedAlgorithms)
    func brokenSignatureIsRejected(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let csr = try CertificateSigningRequest.create(key: key, subject: Self.subject, subjectAlternativeNames: Self.sans)
        var der = csr.der
        // The signature BIT STRING is the last element: flip a byte inside it.
        der[der.count - 5] ^= 0x01
        let broken = try CertificateSigningRequest(der: der)
        #expect(!broken.isSignatureValid)
        let error = try #require(throws: PKIError.self) { try broken.verifySignature() }
        #expect(error.kind == .verificationFailed)
    }

    @Test func tamperedContentIsRejected() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(key: key, subject: Self.subject, subjectAlternativeNames: [.dnsName("aaa.example.com")])
        let der = csr.der
        let needle = Data("aaa.example.com".utf8)
        let range = try #require(der.range(of: needle))
        var tampered = der
        tampered[range.lowerBound] = UInt8(ascii: "b")
        let parsed = try CertificateSigningRequest(der: tampered)
        #expect(parsed.subjectAlternativeNames == [.dnsName("baa.example.com")])
        #expect(!parsed.isSignatureValid)
    }

    @Test func garbageIsRejectedWithClearErrors() throws {
        let none = try #require(throws: PKIError.self) { try CertificateSigningRequest(pem: "garbage") }
        #expect(none.kind == .malformedInput)
        #expect(none.description == "parse certificate signing request: no PEM certificate signing request found (expected a BEGIN CERTIFICATE REQUEST block)")

        let junk = try #require(throws: PKIError.self) {
            try CertificateSigningRequest(pem: PEM.encode(Data("junk junk junk".utf8), label: "CERTIFICATE REQUEST"))
        }
        #expect(junk.kind == .malformedInput)
        #expect(junk.message.contains("not a DER certificate signing request"))
        #expect(junk.openSSLReason != nil)

        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(key: key, subject: Self.subject, subjectAlternativeNames: [])
        let truncated = try #require(throws: PKIError.self) { try CertificateSigningRequest(der: csr.der.prefix(csr.der.count - 10)) }
        #expect(truncated.kind == .malformedInput)

        let two = try #require(throws: PKIError.self) { try CertificateSigningRequest(pem: csr.pem + csr.pem) }
        #expect(two.message.contains("found 2"))
    }

    @Test func invalidSubjectIsRejected() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let badCountry = try #require(throws: PKIError.self) {
            try CertificateSigningRequest.create(key: key, subject: DistinguishedName(commonName: "x", country: "Germany"), subjectAlternativeNames: [])
        }
        #expect(badCountry.kind == .invalidArgument)
        let empty = try #require(throws: PKIError.self) {
            try CertificateSigningRequest.create(key: key, subject: DistinguishedName([]), subjectAlternativeNames: [])
        }
        #expect(empty.kind == .invalidArgument)
    }
}
