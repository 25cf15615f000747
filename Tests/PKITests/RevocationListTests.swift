import Foundation
import Testing
@testable import PKI

@Suite struct RevocationListTests {
    @Test func generatedCRLParsesAndVerifies() throws {
        let pki = try TestHierarchy()
        let now = Date()
        let entries = RevocationReason.allCases.enumerated().map { index, reason in
            RevokedCertificate(serialNumber: SerialNumber(bytes: [0x10, UInt8(index + 1)])!,
                               revocationDate: now.addingTimeInterval(-Double(index) * 3600), reason: reason)
        }
        let crl = try pki.intermediate.revocationList(
            entries: entries, crlNumber: 42, thisUpdate: now, nextUpdate: now.addingTimeInterval(7 * 86400))
        try crl.verify(issuer: pki.intermediate.certificate)

        let parsed = try CertificateRevocationList(pem: crl.pem)
        try parsed.verify(issuer: pki.intermediate.certificate)
        #expect(parsed.der == crl.der)
        #expect(parsed.issuer == pki.intermediate.certificate.subject)
        #expect(parsed.crlNumber == 42)
        #expect(parsed.authorityKeyIdentifier == pki.intermediate.keyIdentifier)
        #expect(parsed.thisUpdate == Date(timeIntervalSince1970: now.timeIntervalSince1970.rounded(.down)))
        #expect(parsed.nextUpdate == parsed.thisUpdate.addingTimeInterval(7 * 86400))
        #expect(Set(parsed.entries) == Set(entries))
        // RFC 5280: "unspecified" is expressed by leaving the reasonCode out.
        #expect(parsed.entry(for: SerialNumber(bytes: [0x10, 0x01])!)?.reason == nil)
        #expect(parsed.entry(for: SerialNumber(bytes: [0x10, 0x02])!)?.reason == .keyCompromise)
        #expect(parsed.entry(for: SerialNumber(bytes: [0x99])!) == nil)
    }

    @Test func openSSLVerifiesOurCRL() throws {
        let pki = try TestHierarchy()
        let entry = RevokedCertificate(serialNumber: SerialNumber(hex: "0badc0de")!, revocationDate: Date(), reason: .superseded)
        let crl = try pki.root.revocationList(entries: [entry], crlNumber: 7, nextUpdate: Date().addingTimeInterval(86400))
        let scratch = try ScratchDirectory()
        try pki.writeCAs(to: scratch)
        try scratch.write(crl.pem, to: "crl.pem")
        let result = try OpenSSLTool.run(["crl", "-in", "crl.pem", "-CAfile", "root.pem", "-verify", "-noout", "-text"], in: scratch.url)
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.combined.contains("verify OK"))
        #expect(result.output.contains("Version 2 (0x1)"))
        #expect(result.output.contains("X509v3 CRL Number: \n                7"))
        #expect(result.output.contains("Serial Number: 0BADC0DE"))
        #expect(result.output.contains("Superseded"))
        #expect(result.output.contains("X509v3 Authority Key Identifier"))

        let wrongCA = try OpenSSLTool.run(["crl", "-in", "crl.pem", "-CAfile", "intermediate.pem", "-verify", "-noout"], in: scratch.url)
        #expect(!wrongCA.combined.contains("verify OK"))
    }

    @Test func openSSLRejectsARevokedLeafWithOurCRL() throws {
        let pki = try TestHierarchy()
        let (_, leaf) = try pki.issueLeaf()
        let (_, other) = try pki.issueLeaf(dnsName: "other.example.test")
        let crl = try pki.intermediate.revocationList(
            entries: [RevokedCertificate(serialNumber: leaf.serialNumber!, revocationDate: Date(), reason: .keyCompromise)],
            crlNumber: 1, nextUpdate: Date().addingTimeInterval(86400))
        let rootCRL = try pki.root.revocationList(entries: [], crlNumber: 1, nextUpdate: Date().addingTimeInterval(86400))
        let scratch = try ScratchDirectory()
        try pki.writeCAs(to: scratch)
        try scratch.write(leaf.pem, to: "leaf.pem")
        try scratch.write(other.pem, to: "other.pem")
        try scratch.write(crl.pem + rootCRL.pem, to: "crls.pem")
        func verify(_ file: String) throws -> OpenSSLTool.Result {
            try OpenSSLTool.run(["verify", "-crl_check_all", "-CRLfile", "crls.pem", "-CAfile", "root.pem",
                                 "-untrusted", "intermediate.pem", file], in: scratch.url)
        }
        let revoked = try verify("leaf.pem")
        #expect(revoked.status != 0)
        #expect(revoked.combined.contains("certificate revoked"))
        let fine = try verify("other.pem")
        #expect(fine.status == 0, "\(fine.combined)")
    }

    @Test func verificationFailsForAnotherIssuerOrTampering() throws {
        let pki = try TestHierarchy()
        let crl = try pki.intermediate.revocationList(entries: [], crlNumber: 1, nextUpdate: Date().addingTimeInterval(3600))
        let wrong = try #require(throws: PKIError.self) { try crl.verify(issuer: pki.root.certificate) }
        #expect(wrong.kind == .verificationFailed)

        var der = crl.der
        der[der.count - 3] ^= 0x04
        let tampered = try CertificateRevocationList(der: der)
        let bad = try #require(throws: PKIError.self) { try tampered.verify(issuer: pki.intermediate.certificate) }
        #expect(bad.kind == .verificationFailed)
    }

    @Test func badArgumentsAndGarbageAreRejected() throws {
        let pki = try TestHierarchy()
        let now = Date()
        let backwards = try #require(throws: PKIError.self) {
            try pki.intermediate.revocationList(entries: [], crlNumber: 1, thisUpdate: now, nextUpdate: now.addingTimeInterval(-1))
        }
        #expect(backwards.kind == .invalidArgument)
        let serial = SerialNumber(hex: "01")!
        let twice = try #require(throws: PKIError.self) {
            try pki.intermediate.revocationList(
                entries: [RevokedCertificate(serialNumber: serial, revocationDate: now, reason: nil),
                          RevokedCertificate(serialNumber: serial, revocationDate: now, reason: .superseded)],
                crlNumber: 1, nextUpdate: now.addingTimeInterval(60))
        }
        #expect(twice.message.contains("listed twice"))
        let garbage = try #require(throws: PKIError.self) { try CertificateRevocationList(pem: "nothing") }
        #expect(garbage.kind == .malformedInput)
        let junk = try #require(throws: PKIError.self) { try CertificateRevocationList(der: Data([0x30, 0x03, 1, 2, 3])) }
        #expect(junk.kind == .malformedInput)
    }

    @Test func reasonNames() {
        #expect(RevocationReason.allCases.count == 10)
        #expect(RevocationReason(name: "cACompromise") == .caCompromise)
        #expect(RevocationReason(name: "KEYCOMPROMISE") == .keyCompromise)
        #expect(RevocationReason(name: "bogus") == nil)
        #expect(RevocationReason.removeFromCRL.rawValue == 8)
    }
}
