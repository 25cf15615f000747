import CertbusTesting
import Foundation
import Testing

/// `profile templates`, `profile create --template`, the CA URL options and `ca publish` through
/// the built executable: listings, refusals with their reason and exit status, nothing changed
/// by a refusal. Each test has a database of its own (`CertCommandLineTests.Environment`).
@Suite(.serialized) struct ProfileTemplateCommandTests {
    static let urls = ["--crl-url", "http://pki.example.com/{ca}.crl", "--ca-issuers-url", "http://pki.example.com/{ca}.crt"]

    @Test func templatesAreListedAsTextAndJSON() throws {
        let env = try CertCommandLineTests.Environment()
        let text = try env.run(["profile", "templates"])
        #expect(text.status == 0, "\(text.error)")
        #expect(text.output.contains("tls-server-br"))
        #expect(text.output.contains("CRL + caIssuers URLs"))
        let json = try env.run(["profile", "templates", "--json"])
        let listed = try #require(try JSONSerialization.jsonObject(with: Data(json.output.utf8)) as? [[String: Any]])
        #expect(listed.map { $0["name"] as? String } == ["tls-server-br", "tls-server", "tls-server-client", "tls-client"])
        #expect(listed[0]["requires_crl_and_ca_issuers_urls"] as? Bool == true)
        #expect(listed[0]["allowed_key_algorithms"] as? [String] == ["EC-P256", "EC-P384", "RSA"])
    }

    @Test func theBRTemplateRefusesWhatLeavesItAndACAWithoutURLs() throws {
        let env = try CertCommandLineTests.Environment()
        #expect(try env.run(["ca", "create", "bare"]).status == 0)
        let bare = try env.run(["profile", "create", "web", "--ca", "bare", "--template", "tls-server-br"])
        #expect(bare.status == 1)
        #expect(bare.error.contains("CA bare lacks a CRL URL (--crl-url) and a caIssuers URL (--ca-issuers-url)"), "\(bare.error)")
        let unknown = try env.run(["profile", "create", "web", "--ca", "bare", "--template", "tls-server-ev"])
        #expect(unknown.status == 2)
        #expect(unknown.error.contains("tls-server-br"))

        #expect(try env.run(["ca", "create", "public", "--org", "Example Corp", "--country", "DE"] + Self.urls).status == 0)
        let ed = try env.run(["profile", "create", "web", "--ca", "public", "--template", "tls-server-br", "--key-types", "EC-P256,ED25519"])
        #expect(ed.status == 1)
        #expect(ed.error.contains("allows only EC-P256, EC-P384, RSA keys, not ED25519 (Baseline Requirements 6.1.5)"))
        let client = try env.run(["profile", "create", "web", "--ca", "public", "--template", "tls-server-br", "--type", "TLS_CLIENT"])
        #expect(client.status == 1)
        #expect(client.error.contains("issues TLS_SERVER certificates, not TLS_CLIENT"))
        let none = try env.run(["profile", "list", "--json"])
        #expect((try JSONSerialization.jsonObject(with: Data(none.output.utf8)) as? [Any])?.isEmpty == true)

        let created = try env.run(["profile", "create", "web", "--ca", "public", "--template", "tls-server-br", "--days", "30",
                                   "--domain", "example.com"])
        #expect(created.status == 0, "\(created.error)")
        #expect(created.output.contains("created profile web from template tls-server-br (CA public, 30 days)"))
        let shown = try env.run(["profile", "show", "web", "--json"])
        let profile = try #require(try JSONSerialization.jsonObject(with: Data(shown.output.utf8)) as? [String: Any])
        #expect(profile["allowed_key_algorithms"] as? [String] == ["EC-P256", "EC-P384", "RSA"])
        #expect(profile["validity_days"] as? Int == 30)
        #expect(profile["certificate_type"] as? String == "TLS_SERVER")
    }

    @Test func caURLsCountryAndPublishAreCheckedAndWritten() throws {
        let env = try CertCommandLineTests.Environment()
        let shared = try env.run(["ca", "create", "corp", "--crl-url", "http://pki.example.com/corp.crl"])
        #expect(shared.status == 1)
        #expect(shared.error.contains("would be the same for corp-root and corp"))
        let country = try env.run(["ca", "create", "corp", "--country", "de"])
        #expect(country.status == 1)
        #expect(country.error.contains("country must be a two-letter upper-case ISO 3166 code"))
        #expect(try env.run(["ca", "list", "--json"]).output.contains("corp") == false)

        #expect(try env.run(["ca", "create", "corp", "--org", "Example Corp", "--country", "DE"] + Self.urls).status == 0)
        let shown = try env.run(["ca", "show", "corp", "--json"])
        #expect(shown.output.contains("http://pki.example.com/corp.crl"), "\(shown.output)")
        let missing = try env.run(["ca", "publish", "--dir", env.scratch.path("nowhere")])
        #expect(missing.status == 1)
        #expect(missing.error.contains("is not a directory"))
        let directory = env.scratch.path("www")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let published = try env.run(["ca", "publish", "--dir", directory, "--json"])
        #expect(published.status == 0, "\(published.error)")
        let files = try #require(try JSONSerialization.jsonObject(with: Data(published.output.utf8)) as? [[String: Any]])
        #expect(Set(files.compactMap { ($0["path"] as? String).map { URL(fileURLWithPath: $0).lastPathComponent } })
            == ["corp-root.crt", "corp-root.crl", "corp.crt", "corp.crl"])
        // The published DER files, converted as a relying party would: the intermediate verifies
        // under the root and is not on the root's CRL.
        let root = try CertOpenSSL.run(["x509", "-inform", "DER", "-in", "www/corp-root.crt", "-out", "root.pem"], in: env.scratch)
        let intermediate = try CertOpenSSL.run(["x509", "-inform", "DER", "-in", "www/corp.crt", "-out", "corp.pem"], in: env.scratch)
        let crl = try CertOpenSSL.run(["crl", "-inform", "DER", "-in", "www/corp-root.crl", "-out", "root.crl"], in: env.scratch)
        #expect(root.status == 0 && intermediate.status == 0 && crl.status == 0, "\(root.combined)\(intermediate.combined)\(crl.combined)")
        let checked = try CertOpenSSL.run(["verify", "-CAfile", "root.pem", "-crl_check", "-CRLfile", "root.crl", "corp.pem"], in: env.scratch)
        #expect(checked.status == 0, "\(checked.combined)")
        #expect(checked.output.contains("corp.pem: OK"))
    }
}
