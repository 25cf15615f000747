import Foundation
import Testing

import PKI

@testable import CertbusServices

/// The ACME CA settings stored in `certificate_authorities.configuration`.
@Suite struct ACMESettingsTests {
    @Test func decodesWithDefaults() throws {
        let settings = try ACMESettings.decode(json: Data(#"{"directoryURL": "https://ca.example/dir"}"#.utf8))
        #expect(settings == ACMESettings(directoryURL: "https://ca.example/dir"))
        #expect(settings.termsOfServiceAgreed)
        #expect(try settings.responderAddress() == ("0.0.0.0", 80))
        #expect(settings.account == nil)
        let configuration = try settings.clientConfiguration()
        #expect(configuration.trust == .systemDefault)
        #expect(configuration.directoryURL.absoluteString == "https://ca.example/dir")
    }

    @Test func roundTripsEveryField() throws {
        let bundle = FileManager.default.temporaryDirectory.appendingPathComponent("acme-settings-\(UUID()).pem")
        try "-----BEGIN CERTIFICATE-----\n".write(to: bundle, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: bundle) }
        let settings = ACMESettings(
            directoryURL: "https://ca.example/dir", contact: ["ops@example.com"], termsOfServiceAgreed: false,
            http01Address: "[::1]:5002", trustedCAFile: bundle.path, accountURL: "https://ca.example/acct/1")
        let decoded = try ACMESettings.decode(json: try JSONEncoder().encode(settings))
        #expect(decoded == settings)
        #expect(try decoded.responderAddress() == ("::1", 5002))
        #expect(decoded.account?.absoluteString == "https://ca.example/acct/1")
        let configuration = try decoded.clientConfiguration()
        #expect(configuration.trust == .caBundle(path: bundle.path))
        #expect(configuration.contact == ["mailto:ops@example.com"])
        #expect(!configuration.termsOfServiceAgreed)
    }

    @Test(arguments: [
        (#"[]"#, "the ACME CA configuration is not valid"),
        (#"{}"#, "missing \"directoryURL\""),
        (#"{"directoryURL": 5}"#, "bad \"directoryURL\""),
        (#"{"directoryURL": "http://ca.example/dir"}"#, "must use https"),
        (#"{"directoryURL": "https://ca.example/dir", "contact": ["nobody"]}"#, "contact \"nobody\" is not an email address"),
        (#"{"directoryURL": "https://ca.example/dir", "http01Address": "80"}"#, "http01Address \"80\" is not host:port"),
        (#"{"directoryURL": "https://ca.example/dir", "http01Address": "::1:80"}"#, "is not host:port"),
        (#"{"directoryURL": "https://ca.example/dir", "http01Address": "0.0.0.0:65536"}"#, "is not host:port"),
        (#"{"directoryURL": "https://ca.example/dir", "http01Address": ":80"}"#, "is not host:port"),
        (#"{"directoryURL": "https://ca.example/dir", "trustedCAFile": "/nonexistent/ca.pem"}"#,
         "trustedCAFile /nonexistent/ca.pem is not a readable file"),
    ])
    func refusesInvalidSettings(json: String, expected: String) {
        do {
            _ = try ACMESettings.decode(json: Data(json.utf8))
            Issue.record("\(json) was accepted")
        } catch {
            guard case .invalidConfiguration(let why) = error.kind else {
                Issue.record("\(json): \(error)")
                return
            }
            #expect(why.contains(expected), "\(json): \(why)")
        }
    }
}

/// Sealing the ACME account key under the key-encryption key.
@Suite struct ACMEAccountKeyVaultTests {
    @Test func sealsAndOpensForTheSameCAOnly() throws {
        let kek = KeyEncryptionKey(key: try SecretBox.Key.generate())
        let key = try ACMEAccountKeyVault.generate()
        #expect(key.algorithm == .ecdsaP256)
        let ca = UUID()
        let sealed = try ACMEAccountKeyVault.seal(key, caID: ca, with: kek)
        #expect(sealed.range(of: try key.pkcs8DER()) == nil)

        let opened = try ACMEAccountKeyVault.open(sealed, caID: ca, with: kek)
        #expect(opened.matches(key.publicKey))

        let otherCA = #expect(throws: ACMEError.self) { try ACMEAccountKeyVault.open(sealed, caID: UUID(), with: kek) }
        guard case .invalidConfiguration(let why) = otherCA?.kind else {
            Issue.record("expected a configuration error, got \(String(describing: otherCA))")
            return
        }
        #expect(why.contains("does not open with this key-encryption key"))
        let otherKEK = KeyEncryptionKey(key: try SecretBox.Key.generate())
        #expect(throws: ACMEError.self) { try ACMEAccountKeyVault.open(sealed, caID: ca, with: otherKEK) }
        var altered = sealed
        altered[altered.count - 1] ^= 1
        #expect(throws: ACMEError.self) { try ACMEAccountKeyVault.open(altered, caID: ca, with: kek) }
    }
}
