import CertbusBench
import CertbusServices
import CertbusTesting
import Foundation
import PKI
import Testing

/// The secrets scanner finds a key however it was written out, and does not mistake a key's
/// public half (in certificates, CSRs, JWKs) for the key.
@Suite("Secrets scanner")
struct SecretScannerTests {
    /// The PKCS#8 offset of the private scalar in an OpenSSL P-256 key, and of the seed in an
    /// Ed25519 key (fixed by their DER layouts), to check the extraction independently.
    static let p256ScalarOffset = 36
    static let ed25519SeedOffset = 16

    static func finds(_ scanner: SecretScanner, in text: String) -> Set<String> {
        Set(scanner.scan(text, source: "test").map(\.encoding))
    }

    @Test func extractsOnlyTheSecretPartOfEachKeyType() throws {
        let ec = try PrivateKey.generate(.ecdsaP256)
        let ecDER = try ec.pkcs8DER()
        #expect(try PrivateKeySecrets.components(pkcs8: ecDER) == [ecDER[Self.p256ScalarOffset..<(Self.p256ScalarOffset + 32)]])
        let ed = try PrivateKey.generate(.ed25519)
        let edDER = try ed.pkcs8DER()
        #expect(try PrivateKeySecrets.components(pkcs8: edDER) == [edDER[Self.ed25519SeedOffset..<(Self.ed25519SeedOffset + 32)]])
        let rsa = try PrivateKey.generate(.rsa(bits: 2048))
        let parts = try PrivateKeySecrets.components(pkcs8: try rsa.pkcs8DER())
        #expect(parts.count == 3)  // d, p, q
        #expect(parts.map(\.count).allSatisfy { $0 >= 120 })
        #expect(throws: PrivateKeySecrets.Malformed.self) { try PrivateKeySecrets.components(pkcs8: ec.publicKey.der) }
    }

    @Test(arguments: [KeyAlgorithm.ecdsaP256, .ed25519, .rsa(bits: 2048)])
    func findsAPEMKeyHoweverItIsWrapped(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let pem = try key.pkcs8PEM()
        let scanner = SecretScanner([try .privateKey(pkcs8: try key.pkcs8DER(), name: "k"), .pemMarker])
        #expect(Self.finds(scanner, in: pem) == ["base64", "PEM marker"])
        // Inside JSON: line breaks become \n and slashes may be escaped as \/.
        let json = String(decoding: try JSONSerialization.data(withJSONObject: ["key": pem]), as: UTF8.self)
        #expect(json.contains("\\n"))
        #expect(Self.finds(scanner, in: json) == ["base64", "PEM marker"])
        // Inside a PostgreSQL record literal of a jsonb column: quotes and backslashes doubled.
        let record = "(1,\"" + json.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\"\"") + "\")"
        #expect(Self.finds(scanner, in: record) == ["base64", "PEM marker"])
        // Without the PEM lines: only the key's own bytes give it away.
        let body = pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        #expect(Self.finds(scanner, in: "blob=" + body) == ["base64"])
        // And the same key's public half is no secret.
        #expect(Self.finds(scanner, in: key.publicKey.pem).isEmpty)
    }

    @Test func findsRawSecretBytesAtEveryAlignmentAndInEveryEncoding() throws {
        let secret = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
        let scanner = SecretScanner([.bytes(secret, name: "s")])
        for lead in 0..<3 {
            let blob = Data((0..<(lead + 5)).map { _ in UInt8.random(in: 0...255) }) + secret + Data([1, 2, 3])
            let base64 = blob.base64EncodedString()
            #expect(!scanner.scan(base64, source: "b64").isEmpty, "alignment \(lead)")
            #expect(!scanner.scan("{\"d\": \"\(Base64URL.encode(blob))\"}", source: "jwk").isEmpty, "alignment \(lead)")
        }
        let hex = Hex.encode(secret)
        #expect(Self.finds(scanner, in: "\\x" + hex) == ["hex"])
        #expect(Self.finds(scanner, in: hex.uppercased()) == ["hex"])
        let colons = stride(from: 0, to: hex.count, by: 2).map { i in String(hex.dropFirst(i).prefix(2)) }.joined(separator: ":")
        #expect(Self.finds(scanner, in: "priv:\n    " + colons) == ["hex"])
        #expect(scanner.scan(Hex.encode(secret.dropFirst(20)), source: "too short").isEmpty)
    }

    @Test func findsTheKEKAsItsFileHoldsIt() throws {
        let kek = try SecretBox.Key.generate()
        let scanner = SecretScanner([.bytes(kek.bytes, name: "KEK")])
        #expect(scanner.scan("CERTBUS_KEK=\(kek.base64)\n", source: "env").map(\.secret) == ["KEK"])
        #expect(scanner.scan(try SecretBox.Key.generate().base64, source: "another key").isEmpty)
    }

    @Test func findsATextSecret() {
        let scanner = SecretScanner([.text("correct horse battery staple", name: "webhook secret")])
        #expect(Self.finds(scanner, in: "secret=correct horse battery staple") == ["text"])
        #expect(scanner.scan("correct horse", source: "part").isEmpty)
    }

    @Test func certificatesCSRsAndPublicJWKsOfAKeyAreNotFindings() throws {
        let key = try PrivateKey.generate(.ecdsaP256)
        let root = try CertificateIssuer.selfSignedRoot(key: key, subject: DistinguishedName(commonName: "scan root"))
        let csr = try CertificateSigningRequest.create(key: key, subject: DistinguishedName(commonName: "scan.test"),
                                                       subjectAlternativeNames: [.dnsName("scan.test")])
        let scanner = SecretScanner([try .privateKey(pkcs8: try key.pkcs8DER(), name: "k"), .pemMarker])
        let jwk = try key.publicKey.jsonWebKey().canonicalJSON
        for text in [root.certificate.pem, csr.pem, key.publicKey.pem, jwk, Hex.encode(root.certificate.der)] {
            #expect(scanner.scan(text, source: "public").isEmpty)
        }
    }

    /// The negative case on a real database: keys planted in a scratch table are each reported,
    /// with the row they are in; the unreviewed bytea column is named too.
    @Test func reportsKeysPlantedInADatabase() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let key = try PrivateKey.generate(.ecdsaP256)
        let der = try key.pkcs8DER()
        let scalar = try PrivateKeySecrets.components(pkcs8: der)[0]
        try c.execute("CREATE TABLE certbus.secret_probe (id int, note text, doc jsonb, raw bytea)")
        try c.execute("INSERT INTO certbus.secret_probe (id, note) VALUES (1, $1)", [try key.pkcs8PEM()])
        try c.execute("INSERT INTO certbus.secret_probe (id, doc) VALUES (2, jsonb_build_object('jwk', jsonb_build_object('d', $1::text)))",
                      [Base64URL.encode(scalar)])
        try c.execute("INSERT INTO certbus.secret_probe (id, raw) VALUES (3, $1)", [der])
        try c.execute("INSERT INTO certbus.secret_probe (id, note) VALUES (4, 'nothing to see')")
        let scanner = SecretScanner([try .privateKey(pkcs8: der, name: "planted key"), .pemMarker])
        var findings: [SecretFinding] = []
        try DatabaseText.forEachRow(on: c) { label, text in findings += scanner.scan(text, source: label) }
        let probe = findings.filter { $0.source.contains("secret_probe") }
        #expect(Set(probe.map(\.source)).count == 3, "\(findings)")
        #expect(probe.contains { $0.encoding == "PEM marker" })
        #expect(probe.contains { $0.encoding == "hex" })
        #expect(findings.count == probe.count, "a fresh database holds no other findings: \(findings)")
        #expect(findings.allSatisfy { !$0.description.contains(Hex.encode(scalar).prefix(16)) }, "a finding never repeats the secret")
        let sealed = try SealedSecrets.read(on: c, keyEncryptionKey: KeyEncryptionKey(key: try SecretBox.Key.generate()), label: "probe")
        #expect(sealed.unreviewedColumns == ["secret_probe.raw"])
    }
}
