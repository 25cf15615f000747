import Foundation
import Testing
@testable import PKI

/// Parsing certificates made by the `openssl` CLI, so the parser is checked against an
/// independent producer.
@Suite struct CertificateParsingTests {
    /// A self-signed CA and a leaf it signed, made with `openssl req`/`openssl x509`.
    struct OpenSSLPair {
        let scratch: ScratchDirectory
        let caPEM: String
        let leafPEM: String

        init() throws {
            scratch = try ScratchDirectory()
            let dir = scratch
            func run(_ args: [String]) throws {
                let result = try OpenSSLTool.run(args, in: dir.url)
                guard result.status == 0 else { throw PKIError(.internalFailure, operation: "openssl", message: result.combined) }
            }
            try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", "ca.key", "-out", "ca.pem", "-days", "30", "-subj", "/O=Test/CN=Test CA",
                     "-addext", "basicConstraints=critical,CA:TRUE,pathlen:1",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            try run(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
                     "-subj", "/CN=leaf.test"])
            try dir.write("""
                subjectAltName=DNS:leaf.test,DNS:*.leaf.test,IP:192.0.2.7,email:ops@leaf.test,URI:https://leaf.test/id
                keyUsage=critical,digitalSignature,keyEncipherment
                extendedKeyUsage=serverAuth,clientAuth
                basicConstraints=critical,CA:FALSE
                crlDistributionPoints=URI:http://crl.test/ca.crl
                authorityInfoAccess=OCSP;URI:http://ocsp.test,caIssuers;URI:http://ca.test/ca.cer
                subjectKeyIdentifier=hash
                authorityKeyIdentifier=keyid
                """, to: "ext.cnf")
            try run(["x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-set_serial", "0x0123456789abcdef",
                     "-days", "10", "-extfile", "ext.cnf", "-out", "leaf.pem"])
            caPEM = try readText(dir.url.appendingPathComponent("ca.pem").path)
            leafPEM = try readText(dir.url.appendingPathComponent("leaf.pem").path)
        }
    }

    @Test func readsFieldsOfOpenSSLCertificates() throws {
        let pair = try OpenSSLPair()
        let ca = try Certificate(pem: pair.caPEM)
        let leaf = try Certificate(pem: pair.leafPEM)

        #expect(ca.isCA)
        #expect(ca.pathLengthConstraint == 1)
        #expect(ca.keyUsage == [.keyCertSign, .cRLSign])
        #expect(ca.isSelfIssued)
        #expect(ca.subject.description == "CN=Test CA,O=Test")
        #expect(ca.publicKeyAlgorithm == .ecdsaP256)
        #expect(ca.version == 3)

        #expect(leaf.serialNumberHex == "0123456789abcdef")
        #expect(leaf.subject.commonName == "leaf.test")
        #expect(leaf.issuer == ca.subject)
        #expect(!leaf.isCA)
        #expect(!leaf.isSelfIssued)
        #expect(leaf.subjectAlternativeNames == [
            .dnsName("leaf.test"), .dnsName("*.leaf.test"), .ipAddress(IPAddress("192.0.2.7")!),
            .email("ops@leaf.test"), .uri("https://leaf.test/id"),
        ])
        #expect(leaf.dnsNames == ["leaf.test", "*.leaf.test"])
        #expect(leaf.keyUsage == [.digitalSignature, .keyEncipherment])
        #expect(leaf.extendedKeyUsage == [.serverAuth, .clientAuth])
        #expect(leaf.crlDistributionPoints == ["http://crl.test/ca.crl"])
        #expect(leaf.ocspURLs == ["http://ocsp.test"])
        #expect(leaf.caIssuersURLs == ["http://ca.test/ca.cer"])
        #expect(leaf.authorityKeyIdentifier == ca.subjectKeyIdentifier)
        #expect(leaf.subjectKeyIdentifier?.count == 20)
        #expect(leaf.publicKeyAlgorithm == .rsa(bits: 2048))
        #expect(leaf.signatureAlgorithm == "ecdsa-with-SHA256")
        #expect(leaf.extensions.first { $0.name == "keyUsage" }?.isCritical == true)
        #expect(leaf.extensions.first { $0.name == "extendedKeyUsage" }?.isCritical == false)
        let lifetime = leaf.notAfter.timeIntervalSince(leaf.notBefore)
        #expect(abs(lifetime - 10 * 86400) < 2)
        #expect(leaf.isValid(at: Date()))
        #expect(!leaf.isValid(at: Date().addingTimeInterval(11 * 86400)))
        try leaf.verify(issuer: ca)
    }

    @Test func fingerprintMatchesOpenSSL() throws {
        let pair = try OpenSSLPair()
        let leaf = try Certificate(pem: pair.leafPEM)
        let result = try OpenSSLTool.run(["x509", "-in", pair.scratch.path("leaf.pem"), "-noout", "-fingerprint", "-sha256"])
        let theirs = result.output.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        #expect(theirs.replacingOccurrences(of: ":", with: "").lowercased() == leaf.sha256Fingerprint)
        #expect(leaf.sha256Fingerprint.count == 64)
    }

    @Test func chainParsing() throws {
        let pair = try OpenSSLPair()
        let bundle = "leaf follows\n" + pair.leafPEM + "\n" + pair.caPEM
        let chain = try Certificate.parseChain(pem: bundle)
        #expect(chain.count == 2)
        #expect(chain[0].subject.commonName == "leaf.test")
        #expect(chain[1].subject.commonName == "Test CA")
        #expect(try Certificate(der: chain[0].der) == chain[0])
        #expect(chain[0].pem == pair.leafPEM)

        let twoForOne = try #require(throws: PKIError.self) { try Certificate(pem: bundle) }
        #expect(twoForOne.message.contains("found 2"))

        let broken = pair.leafPEM + PEM.encode(Data("nope".utf8), label: "CERTIFICATE")
        let error = try #require(throws: PKIError.self) { try Certificate.parseChain(pem: broken) }
        #expect(error.message.hasPrefix("certificate 2 of 2"))
    }

    @Test func verifyRejectsWrongIssuerAndTamperedSignature() throws {
        let pair = try OpenSSLPair()
        let other = try OpenSSLPair()
        let leaf = try Certificate(pem: pair.leafPEM)
        let otherCA = try Certificate(pem: other.caPEM)
        // Same subject name ("Test CA") but a different key: the key identifier link fails.
        let wrong = try #require(throws: PKIError.self) { try leaf.verify(issuer: otherCA) }
        #expect(wrong.kind == .verificationFailed)

        var der = leaf.der
        der[der.count - 3] ^= 0x01
        let tampered = try Certificate(der: der)
        let bad = try #require(throws: PKIError.self) { try tampered.verify(issuer: Certificate(pem: pair.caPEM)) }
        #expect(bad.kind == .verificationFailed)
        #expect(bad.message.contains("signature"))
    }

    @Test func garbageIsRejectedWithClearErrors() throws {
        let none = try #require(throws: PKIError.self) { try Certificate(pem: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n") }
        #expect(none.description == "parse certificate: no PEM certificate found (expected a BEGIN CERTIFICATE block)")
        let empty = try #require(throws: PKIError.self) { try Certificate.parseChain(pem: "") }
        #expect(empty.kind == .malformedInput)
        let junk = try #require(throws: PKIError.self) { try Certificate(der: Data(repeating: 0x30, count: 40)) }
        #expect(junk.kind == .malformedInput)
        #expect(junk.openSSLReason != nil)
    }
}
