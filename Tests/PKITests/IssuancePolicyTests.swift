import Foundation
import Testing
@testable import PKI

/// Requests that must be refused before anything is signed.
@Suite struct IssuancePolicyTests {
    let pki: TestHierarchy
    let key: PrivateKey

    init() throws {
        pki = try TestHierarchy()
        key = try PrivateKey.generate(.ecdsaP256)
    }

    private func refusal(
        subject: DistinguishedName = DistinguishedName(commonName: "ok.example.test"),
        sans: [SubjectAlternativeName] = [], profile: IssuanceProfile = .tlsServer(), now: Date = Date()
    ) throws -> PKIError {
        try #require(throws: PKIError.self) {
            try pki.intermediate.issue(publicKey: key.publicKey, subject: subject, subjectAlternativeNames: sans,
                                       profile: profile, now: now)
        }
    }

    @Test func tlsServerWithoutAnyNameIsRefused() throws {
        let error = try refusal(subject: DistinguishedName(organization: "No Names Ltd"))
        #expect(error.kind == .policyViolation)
        #expect(error.message.contains("at least one subject alternative name"))
    }

    @Test func commonNameThatIsNoHostNameIsRefused() throws {
        let error = try refusal(subject: DistinguishedName(commonName: "My Web Server"))
        #expect(error.kind == .policyViolation)
        #expect(error.message.contains("must be a DNS name or IP address"))
    }

    @Test func invalidDNSNamesAreRefused() throws {
        let error = try refusal(sans: [.dnsName("bad_name.example.test")])
        #expect(error.kind == .policyViolation)
        #expect(error.message.contains("bad_name.example.test"))
        let duplicate = try refusal(sans: [.dnsName("ok.example.test"), .dnsName("ok.example.test")])
        #expect(duplicate.message.contains("duplicate"))
    }

    @Test func lifetimeAboveTheBRLimitIsRefused() throws {
        // Issued on 2026-11-21: BR limit 200 days.
        let now = Date(timeIntervalSince1970: 1_795_305_600)
        let error = try refusal(profile: .tlsServer(validityDays: 201), now: now)
        #expect(error.message.contains("at most 200 days"))
        // 200 days are fine (inclusive counting).
        _ = try pki.intermediate.issue(publicKey: key.publicKey, subject: DistinguishedName(commonName: "ok.example.test"),
                                       subjectAlternativeNames: [], profile: .tlsServer(validityDays: 200), now: now)
    }

    @Test func validityLimitSchedule() {
        func limit(_ iso: String) -> Int {
            TLSValidityLimit.maximumDays(notBefore: ISO8601DateFormatter().date(from: iso)!)
        }
        #expect(limit("2025-06-01T00:00:00Z") == 398)
        #expect(limit("2026-03-14T23:59:59Z") == 398)
        #expect(limit("2026-03-15T00:00:00Z") == 200)
        #expect(limit("2027-03-15T00:00:00Z") == 100)
        #expect(limit("2029-03-15T00:00:00Z") == 47)
    }

    @Test func leafMayNotOutliveItsIssuer() throws {
        let later = pki.intermediate.certificate.notAfter.addingTimeInterval(-10 * 86400)
        let error = try refusal(profile: .tlsServer(validityDays: 30), now: later)
        #expect(error.message.contains("outlive its issuer"))
    }

    @Test func pathLengthZeroCAMayNotIssueCAs() throws {
        let error = try refusal(subject: DistinguishedName(commonName: "Sub CA"), profile: .intermediateCA(pathLength: 0))
        #expect(error.message.contains("pathLenConstraint 0"))
        // One level deeper is fine under a root without a path length limit…
        let middle = try pki.root.issue(publicKey: key.publicKey, subject: DistinguishedName(commonName: "Policy CA"),
                                        subjectAlternativeNames: [], profile: .intermediateCA(pathLength: 1))
        let policyCA = try CertificateIssuer(certificate: middle, key: key)
        // …but under pathlen 1 an unlimited CA is not.
        let unlimited = try #require(throws: PKIError.self) {
            try policyCA.issue(publicKey: PrivateKey.generate(.ecdsaP256).publicKey, subject: DistinguishedName(commonName: "x"),
                               subjectAlternativeNames: [], profile: .intermediateCA(validityDays: 30, pathLength: nil))
        }
        #expect(unlimited.message.contains("at most 0"))
    }

    @Test func weakRSAKeyFromCSRIsRefused() throws {
        let scratch = try ScratchDirectory()
        let result = try OpenSSLTool.run(
            ["req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "k.pem", "-out", "r.pem", "-subj", "/CN=weak.example.test"],
            in: scratch.url)
        #expect(result.status == 0, "\(result.combined)")
        let csr = try CertificateSigningRequest(pem: readText(scratch.url.appendingPathComponent("r.pem").path))
        #expect(csr.publicKeyAlgorithm == .rsa(bits: 1024))
        let error = try #require(throws: PKIError.self) { try pki.intermediate.issue(for: csr, profile: .tlsServer()) }
        #expect(error.kind == .policyViolation)
        #expect(error.message.contains("at least 2048 bits"))
    }

    @Test func csrWithBrokenSignatureIsRefused() throws {
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(commonName: "ok.example.test"), subjectAlternativeNames: [])
        var der = csr.der
        der[der.count - 4] ^= 0x20
        let error = try #require(throws: PKIError.self) {
            try pki.intermediate.issue(for: CertificateSigningRequest(der: der), profile: .tlsServer())
        }
        #expect(error.kind == .verificationFailed)
        #expect(error.message.contains("proof of key possession"))
    }

    @Test func inconsistentKeyUsageIsRefused() throws {
        var profile = IssuanceProfile.tlsServer()
        profile.keyUsage = [.digitalSignature, .keyEncipherment]
        #expect(try refusal(profile: profile).message.contains("encipherment"))
        profile.keyUsage = [.digitalSignature, .keyCertSign]
        #expect(try refusal(profile: profile).message.contains("keyCertSign"))
    }

    @Test func badURLsAndPolicyOIDsAreRefused() throws {
        var profile = IssuanceProfile.tlsServer()
        profile.crlDistributionPointURL = "not a url"
        #expect(try refusal(profile: profile).kind == .invalidArgument)
        profile.crlDistributionPointURL = "ftp://crl.example.test/ca.crl"
        #expect(try refusal(profile: profile).kind == .invalidArgument)
        profile.crlDistributionPointURL = nil
        profile.certificatePolicies = ["2.23.140.1.2.1,1.2.3"]
        #expect(try refusal(profile: profile).kind == .invalidArgument)
    }

    /// Values are encoded as typed ASN.1, never through OpenSSL's config syntax: a comma is just a character.
    @Test func urlsCannotInjectExtraNames() throws {
        var profile = IssuanceProfile.tlsServer()
        profile.crlDistributionPointURL = "http://crl.example.test/a,URI:http://evil.example"
        let certificate = try pki.intermediate.issue(
            publicKey: key.publicKey, subject: DistinguishedName(commonName: "ok.example.test"),
            subjectAlternativeNames: [], profile: profile)
        #expect(certificate.crlDistributionPoints == ["http://crl.example.test/a,URI:http://evil.example"])
    }

    @Test func badValidityArgumentsAreRefused() throws {
        var profile = IssuanceProfile.tlsServer()
        profile.validity = 0
        #expect(try refusal(profile: profile).kind == .invalidArgument)
        profile = .tlsServer()
        profile.backdate = 3 * 86400
        #expect(try refusal(profile: profile).kind == .invalidArgument)
    }

    @Test func caCertificatesCarryNoSANs() throws {
        let error = try refusal(subject: DistinguishedName(commonName: "Sub"), sans: [.dnsName("ca.example.test")],
                                profile: .intermediateCA(pathLength: nil))
        #expect(error.kind == .policyViolation)
    }

    @Test func issuerMustBeACAWithItsOwnKey() throws {
        let (leafKey, leaf) = try pki.issueLeaf()
        let notCA = try #require(throws: PKIError.self) { try CertificateIssuer(certificate: leaf, key: leafKey) }
        #expect(notCA.kind == .policyViolation)
        let wrongKey = try #require(throws: PKIError.self) {
            try CertificateIssuer(certificate: pki.intermediate.certificate, key: leafKey)
        }
        #expect(wrongKey.kind == .invalidArgument)
        let leafProfileRoot = try #require(throws: PKIError.self) {
            try CertificateIssuer.selfSignedRoot(key: key, subject: DistinguishedName(commonName: "r"), profile: .tlsServer())
        }
        #expect(leafProfileRoot.kind == .invalidArgument)
        var noCertSign = IssuanceProfile.rootCA()
        noCertSign.keyUsage = [.digitalSignature, .cRLSign]
        let badRoot = try #require(throws: PKIError.self) {
            try CertificateIssuer.selfSignedRoot(key: key, subject: DistinguishedName(commonName: "r"), profile: noCertSign)
        }
        #expect(badRoot.message.contains("keyCertSign"))
    }
}
