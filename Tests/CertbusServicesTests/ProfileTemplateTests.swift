import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Testing

@testable import CertbusServices

/// The built-in profile templates: what they fill in, what they refuse, and the CA they need.
/// The pure checks need no database; the creation tests use a database of their own (`CertFixture`).
@Suite struct ProfileTemplateTests {
    @Test func templatesAreFoundByNameAndFillInTheirSettings() throws {
        #expect(ProfileTemplate.all.map(\.name) == ["tls-server-br", "tls-server", "tls-server-client", "tls-client"])
        let br = try #require(ProfileTemplate.named("TLS-Server-BR"))
        #expect(ProfileTemplate.named("tls-server-ev") == nil)
        let draft = br.draft(name: "web", ca: "corp")
        #expect(draft.template == br)
        #expect(draft.certificateType == .tlsServer)
        #expect(draft.validityDays == 90)
        #expect(draft.allowedKeyAlgorithms == ["EC-P256", "EC-P384", "RSA"])
        #expect(draft.defaultKeyAlgorithm == "EC-P256")
        #expect(br.problem(with: draft) == nil)
        #expect(ProfileTemplate.tlsClient.draft(name: "c", ca: "corp").validityDays == 365)
        #expect(ProfileTemplate.tlsServerClient.draft(name: "m", ca: "corp").certificateType == .tlsServerAndClient)
    }

    @Test func narrowingStaysInsideTheTemplateButLeavingItIsRefused() {
        let br = ProfileTemplate.tlsServerBR
        var narrowed = br.draft(name: "web", ca: "corp")
        narrowed.allowedKeyAlgorithms = ["EC-P384"]
        narrowed.defaultKeyAlgorithm = "EC-P384"
        #expect(br.problem(with: narrowed) == nil)

        var ed = br.draft(name: "web", ca: "corp")
        ed.allowedKeyAlgorithms = ["EC-P256", "ed25519"]
        #expect(br.problem(with: ed) == "the tls-server-br template allows only EC-P256, EC-P384, RSA keys, not ED25519 (Baseline Requirements 6.1.5)")

        var client = br.draft(name: "web", ca: "corp")
        client.certificateType = .tlsClient
        #expect(br.problem(with: client) == "the tls-server-br template issues TLS_SERVER certificates, not TLS_CLIENT")

        var generated = br.draft(name: "web", ca: "corp")
        generated.allowedKeyAlgorithms = ["RSA"]
        #expect(br.problem(with: generated) == "the default key type EC-P256 is not among the profile's key types (RSA)")
        generated.defaultKeyAlgorithm = "RSA-3072"
        #expect(br.problem(with: generated) == nil)
    }

    @Test func theBRTemplateNeedsABuiltInCAWithCRLAndCAIssuersURLs() {
        let br = ProfileTemplate.tlsServerBR
        let none = br.problem(withCA: "corp", kind: "BUILT_IN", configuration: CAConfiguration())
        #expect(none?.contains("CA corp lacks a CRL URL (--crl-url) and a caIssuers URL (--ca-issuers-url)") == true)
        let crlOnly = br.problem(withCA: "corp", kind: "BUILT_IN", configuration: CAConfiguration(crlURL: "http://pki.example.test/corp.crl"))
        #expect(crlOnly?.contains("lacks a caIssuers URL (--ca-issuers-url)") == true)
        #expect(br.problem(withCA: "corp", kind: "BUILT_IN", configuration: CAPublicationTests.urls) == nil)
        // An ACME CA shapes its certificates itself; the private templates need nothing.
        #expect(br.problem(withCA: "le", kind: "ACME", configuration: CAConfiguration()) == nil)
        #expect(ProfileTemplate.tlsServer.problem(withCA: "corp", kind: "BUILT_IN", configuration: CAConfiguration()) == nil)
    }

    @Test func creatingFromTheBRTemplateChecksTheCAAndRecordsTheTemplate() throws {
        let fixture = try CertFixture() // its CA has a CRL URL but no caIssuers URL
        let before = try fixture.count("ra_profiles")
        let refused = try #require(throws: RAProfileError.self) {
            _ = try RAProfileStore.create(ProfileTemplate.tlsServerBR.draft(name: "br", ca: "test-ca"), actor: fixture.actor,
                                          on: fixture.connection)
        }
        #expect(refused.message.contains("the tls-server-br template needs a CA whose certificates point at its CRL"))
        #expect(refused.message.contains("CA test-ca lacks a caIssuers URL (--ca-issuers-url)"))
        var ed = ProfileTemplate.tlsServerBR.draft(name: "br", ca: "test-ca")
        ed.allowedKeyAlgorithms = ["ED25519"]
        #expect(throws: RAProfileError.self) { _ = try RAProfileStore.create(ed, actor: fixture.actor, on: fixture.connection) }
        #expect(try fixture.count("ra_profiles") == before)

        _ = try BuiltInCAProvisioner.create(
            BuiltInCASpecification(name: "public", organization: "Example Corp", country: "DE", configuration: CAPublicationTests.urls),
            keyEncryptionKey: fixture.kek, actor: fixture.actor, on: fixture.connection)
        var draft = ProfileTemplate.tlsServerBR.draft(name: "br", ca: "public")
        draft.allowedDomains = ["www.example.test"]
        let profile = try RAProfileStore.create(draft, actor: fixture.actor, on: fixture.connection)
        #expect(profile.allowedKeyAlgorithms == ["EC-P256", "EC-P384", "RSA"])
        #expect(profile.certificateType == .tlsServer)
        let audited = try fixture.connection.query(
            "SELECT details->>'template' AS template FROM certbus.audit_log WHERE action = 'PROFILE_CREATED' AND entity_id = $1",
            [profile.id.uuidString.lowercased()])
        #expect(try audited.firstRow?.decode("template", as: String?.self) == "tls-server-br")
    }
}
