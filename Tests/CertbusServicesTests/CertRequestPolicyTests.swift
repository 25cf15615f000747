import CertbusCore
import Foundation
import PKI
import Testing
@testable import CertbusServices

@Suite struct CertRequestPolicyTests {
    func profile(domains: [String] = ["*.example.test", "example.test"], algorithms: [String] = ["EC-P256", "EC-P384", "RSA", "ED25519"],
                 minimumRSA: Int = 2048, type: CertificateType = .tlsServer) -> RAProfile {
        var draft = RAProfileDraft(name: "p", ca: "ca")
        draft.allowedDomains = domains
        // Build a profile value directly (no database needed for pure checks).
        return RAProfile(id: UUID(), name: "web", caId: UUID(), caName: "ca", validityDays: 90, allowedKeyAlgorithms: algorithms,
                         minimumRSABits: minimumRSA, allowedDomains: draft.allowedDomains, requiresApproval: false, autoRenew: true,
                         renewBeforeSeconds: nil, expiryAlertDays: [30], enabled: true, certificateType: type,
                         approvalLifetimeSeconds: 86400, defaultKeyAlgorithm: "EC-P256", createdAt: Date())
    }

    func refusal(_ body: () throws -> Any) -> RequestRefusal? {
        do {
            _ = try body()
            return nil
        } catch let refusal as RequestRefusal {
            return refusal
        } catch {
            return RequestRefusal(.invalidRequest, "unexpected \(error)")
        }
    }

    @Test func aGoodCSRPasses() throws {
        let (csr, _) = try CertFixture.csr(["www.example.test", "example.test"])
        let checked = try RequestPolicy.check(csr: csr, profile: profile())
        #expect(checked.names == ["www.example.test", "example.test"])
        #expect(checked.commonName == "www.example.test")
        #expect(checked.subject.description == "CN=www.example.test")
    }

    @Test func theCommonNameBecomesASAN() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(key: key, subject: DistinguishedName(commonName: "cn.example.test", organization: "Unvalidated Org"),
                                                       subjectAlternativeNames: [.dnsName("san.example.test")])
        let checked = try RequestPolicy.check(csr: csr, profile: profile())
        #expect(checked.names == ["cn.example.test", "san.example.test"])
        // Only the CN is kept in the subject: unvalidated fields never reach a certificate.
        #expect(checked.subject.description == "CN=cn.example.test")
    }

    @Test(arguments: ["", "garbage", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
                      "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"])
    func garbagePEMIsAMalformedCSR(_ text: String) {
        let refused = refusal { try RequestPolicy.parseCSR(text) }
        #expect(refused?.code == .malformedCSR)
        #expect(refused?.message.hasPrefix("the CSR cannot be read") == true)
    }

    @Test func aCSRWhoseSignatureFailsIsRefused() throws {
        let (csr, _) = try CertFixture.csr(["www.example.test"])
        var der = csr.der
        der[der.count - 3] ^= 0x55
        let tampered = try CertificateSigningRequest(der: der)
        let refused = refusal { try RequestPolicy.check(csr: tampered, profile: profile()) }
        #expect(refused?.code == .badSignature)
        #expect(refused?.message.contains("does not verify") == true)
    }

    @Test func a1024BitRSAKeyMadeByOpenSSLIsRefused() throws {
        let scratch = try CertScratch()
        let made = try CertOpenSSL.run(
            ["req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "weak.key", "-out", "weak.csr", "-subj", "/CN=weak.example.test",
             "-addext", "subjectAltName=DNS:weak.example.test"], in: scratch)
        #expect(made.status == 0, "\(made.combined)")
        let csr = try RequestPolicy.parseCSR(try scratch.read("weak.csr"))
        #expect(csr.publicKeyAlgorithm == .rsa(bits: 1024))
        let refused = refusal { try RequestPolicy.check(csr: csr, profile: profile()) }
        #expect(refused?.code == .weakKey)
        #expect(refused?.message == "the RSA key has 1024 bits; profile web requires at least 2048")
    }

    @Test func keyTypesOutsideTheProfileAreRefused() throws {
        let (csr, _) = try CertFixture.csr(["www.example.test"], algorithm: .ed25519)
        let refused = refusal { try RequestPolicy.check(csr: csr, profile: profile(algorithms: ["EC-P256"])) }
        #expect(refused?.code == .keyTypeNotAllowed)
        #expect(refused?.message.contains("allowed: EC-P256") == true)
        let rsa = refusal { try RequestPolicy.check(commonName: "a.example.test", names: [], keyType: "RSA-2048", profile: profile(minimumRSA: 3072)) }
        #expect(rsa?.code == .weakKey)
    }

    @Test func namesOutsideTheProfilesDomainsAreListed() throws {
        let (csr, _) = try CertFixture.csr(["www.example.test", "evil.example.org", "example.test.evil.net"])
        let refused = refusal { try RequestPolicy.check(csr: csr, profile: profile()) }
        #expect(refused?.code == .nameNotAllowed)
        #expect(refused?.message == "evil.example.org, example.test.evil.net are outside the domains of profile web (allowed: *.example.test, example.test)")
    }

    @Test func malformedAndMissingNamesAreRefused() throws {
        #expect(refusal { try RequestPolicy.check(commonName: nil, names: [], keyType: nil, profile: profile(domains: [])) }?.code == .invalidName)
        #expect(refusal { try RequestPolicy.check(commonName: "bad_name.example.test", names: [], keyType: nil, profile: profile(domains: [])) }?.code == .invalidName)
        #expect(refusal { try RequestPolicy.check(commonName: "a.example.test", names: [], keyType: "DSA", profile: profile()) }?.code == .invalidRequest)
    }

    @Test func serverGeneratedRequestsUseTheProfileDefaultKey() throws {
        let checked = try RequestPolicy.check(commonName: "Gen.Example.Test", names: ["alt.example.test", "gen.example.test"], keyType: nil, profile: profile())
        #expect(checked.generatedKeyType == .ecP256)
        #expect(checked.names == ["alt.example.test", "gen.example.test"])
        #expect(checked.commonName == "gen.example.test")
    }
}
