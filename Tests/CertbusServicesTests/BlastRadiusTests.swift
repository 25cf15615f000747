import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres
import Testing
@testable import CertbusServices

/// Blast-radius selection against a real database (one fresh database per test, from CertFixture):
/// public keys, CA subtrees, name patterns, profiles, endpoints, and the psql functions.
@Suite(.serialized) struct BlastRadiusTests {
    /// Issues a certificate for `names` from a CSR with a fresh key of `algorithm`; returns its id and key.
    @discardableResult
    func issue(_ f: CertFixture, _ names: [String], algorithm: KeyAlgorithm = .ecdsaP256, profile: String = "web") throws -> (UUID, PrivateKey) {
        let (csr, key) = try CertFixture.csr(names, algorithm: algorithm)
        let id = try #require(try f.process(f.issue, payload: IssueCertificatePayload(profile: profile, csr: csr.pem)).1.get().issuedCertificateId)
        return (id, key)
    }

    func select(_ f: CertFixture, _ selector: CertificateSelector) throws -> Set<UUID> {
        let resolved = try CertificateSelection.resolve(selector, on: f.connection)
        return Set(try CertificateStore.list(CertificateFilter(selection: resolved, limit: 10000), on: f.connection).map(\.id))
    }

    func ids(_ f: CertFixture, _ sql: String, _ parameters: [any PostgresEncodable]) throws -> Set<UUID> {
        Set(try f.connection.query(sql, parameters).map { try $0.decode("id", as: UUID.self) })
    }

    @Test func everyInsertPathRecordsTheSameKeyHashAsOpenSSL() throws {
        let f = try CertFixture()
        var issued: [UUID] = []
        for algorithm in [KeyAlgorithm.ecdsaP256, .ecdsaP384, .rsa(bits: 2048), .ed25519] {
            issued.append(try issue(f, ["key-\(issued.count).example.test"], algorithm: algorithm).0)
        }
        // The batch issuance path.
        let (csr, _) = try CertFixture.csr(["batch.example.test"])
        _ = try f.enqueue(.issueCertificate, payload: IssueCertificatePayload(profile: "web", csr: csr.pem))
        let claimed = try JobQueue.claim(on: f.connection, workerId: "batch:1", limit: 10, queues: ["default"], kinds: [.issueCertificate],
                                         leaseSeconds: 60)
        _ = try IssueBatch(registry: f.registry).process(claimed, workerId: "batch:1", pool: f.pool)
        // Discovery (a certificate certbus did not issue).
        let pki = try ValidationPKI()
        let discovered = try CertificateInventory.record(try pki.leaf(["seen.example.org"]).certificate, chain: [], on: f.connection).id
        let rows = try f.connection.query("SELECT id, certificate_pem, public_key_sha256 FROM certbus.certificates")
        #expect(rows.count == 6)
        for row in rows {
            let certificate = try Certificate(pem: try row.decode("certificate_pem"))
            let id: UUID = try row.decode("id")
            let stored: String? = try row.decode("public_key_sha256")
            let key = try certificate.publicKey
            #expect(stored == key.sha256Fingerprint, "\(id) (\(key.algorithm))")
        }
        #expect(try f.count("certificates", where: "id = '\(discovered.uuidString.lowercased())' AND public_key_sha256 IS NOT NULL") == 1)
        // Not a certificate: NULL, never an error.
        for text in ["garbage", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----", "-----BEGIN CERTIFICATE-----\nAB=\n-----END CERTIFICATE-----"] {
            #expect(try f.connection.query("SELECT certbus.certificate_public_key_sha256($1) AS k", [text])[0].decode("k", as: String?.self) == nil)
        }
    }

    @Test func sharingAKeyFollowsRenewalsWithoutRekeyOnly() throws {
        let f = try CertFixture()
        let (first, key) = try issue(f, ["shared.example.test"])
        // The same key in a second, unrelated request.
        let csr = try CertificateSigningRequest.create(key: key, subject: DistinguishedName(commonName: "other.example.test"),
                                                       subjectAlternativeNames: [.dnsName("other.example.test")])
        let second = try #require(try f.process(f.issue, payload: IssueCertificatePayload(profile: "web", csr: csr.pem)).1.get().issuedCertificateId)
        let renewed = try #require(try f.process(f.renew, payload: RenewCertificatePayload(certificateId: first)).1.get().issuedCertificateId)
        let rekeyed = try #require(try f.process(f.renew, payload: RenewCertificatePayload(certificateId: renewed, rekey: true)).1.get().issuedCertificateId)
        _ = try issue(f, ["unrelated.example.test"])

        #expect(try select(f, CertificateSelector(sharingKeyOf: first.uuidString)) == [first, second, renewed])
        let fingerprint = try #require(try CertificateStore.find(idOrFingerprint: second.uuidString, on: f.connection)).fingerprint
        #expect(try select(f, CertificateSelector(sharingKeyOf: fingerprint)) == [first, second, renewed])
        #expect(try select(f, CertificateSelector(sharingKeyOf: rekeyed.uuidString)) == [rekeyed])
        #expect(try ids(f, "SELECT id FROM certbus.certificates_sharing_key($1)", [first]) == [first, second, renewed])
        let row = try f.connection.query(
            "SELECT certificates, valid_certificates FROM certbus.certificates_by_key WHERE public_key_sha256 = (SELECT public_key_sha256 FROM certbus.certificates WHERE id = $1)",
            [first])[0]
        #expect(try row.decode("certificates", as: Int.self) == 3)
        #expect(try row.decode("valid_certificates", as: Int.self) == 3)
    }

    @Test func issuedByFollowsTheCAHierarchyThroughIntermediates() throws {
        let f = try CertFixture()
        let (a, _) = try issue(f, ["a.example.test"])
        let (b, _) = try issue(f, ["b.example.test"])
        // A second, unrelated CA and profile.
        _ = try BuiltInCAProvisioner.create(
            BuiltInCASpecification(name: "other-ca", commonName: "Other CA", organization: "certbus tests"),
            keyEncryptionKey: f.kek, actor: f.actor, on: f.connection)
        var draft = RAProfileDraft(name: "other", ca: "other-ca")
        draft.allowedDomains = ["*.example.test"]
        _ = try RAProfileStore.create(draft, actor: f.actor, on: f.connection)
        let (c, _) = try issue(f, ["c.example.test"], profile: "other")

        // The root signed nothing itself: everything below it is found through its intermediate.
        #expect(try select(f, CertificateSelector(issuedBy: "test-ca-root")) == [a, b])
        #expect(try select(f, CertificateSelector(issuedBy: f.root.id.uuidString.uppercased())) == [a, b])
        #expect(try select(f, CertificateSelector(issuedBy: "test-ca")) == [a, b])
        #expect(try select(f, CertificateSelector(issuedBy: "other-ca-root")) == [c])
        #expect(try ids(f, "SELECT id FROM certbus.certificates_issued_by($1)", ["test-ca-root"]) == [a, b])
        let tree = try f.connection.query(
            "SELECT ca_name, depth FROM certbus.certificate_authority_tree WHERE ancestor_name = 'test-ca-root' ORDER BY depth")
            .map { "\(try $0.decode("ca_name", as: String.self)):\(try $0.decode("depth", as: Int.self))" }
        #expect(tree == ["test-ca-root:0", "test-ca:1"])
    }

    @Test func namePatternsMatchWholeNamesCaseInsensitivelyAndAgreeWithTheSwiftReference() throws {
        let f = try CertFixture(profileDraft: { $0.allowedDomains = ["*.example.test", "example.test", "*.prod.test", "127.0.0.1"] })
        let (www, _) = try issue(f, ["www.example.test", "example.test"])
        let (api, _) = try issue(f, ["API-1.example.test"])
        let (deep, _) = try issue(f, ["a.b.example.test"])
        let (wildcard, _) = try issue(f, ["*.example.test"])
        let (prod, _) = try issue(f, ["db.prod.test"])
        let (address, _) = try issue(f, ["127.0.0.1"])
        let all: [UUID: [String]] = [www: ["www.example.test", "example.test"], api: ["api-1.example.test"], deep: ["a.b.example.test"],
                                     wildcard: ["*.example.test"], prod: ["db.prod.test"], address: ["127.0.0.1"]]
        let cases: [(String, Set<UUID>)] = [
            ("*.example.test", [www, api, deep, wildcard]), ("example.test", [www]), ("WWW.Example.Test.", [www]),
            ("api-*.example.test", [api]), ("*prod*", [prod]), ("*.b.*", [deep]), ("127.0.0.*", [address]), ("*.example.org", []),
        ]
        for (text, expected) in cases {
            let pattern = try CertificateNamePattern(text)
            #expect(try select(f, CertificateSelector(sanPattern: pattern)) == expected, "\(text)")
            #expect(try ids(f, "SELECT id FROM certbus.certificates_matching_name($1)", [text]) == expected, "psql \(text)")
            #expect(Set(all.filter { $0.value.contains(where: pattern.matches) }.keys) == expected, "Swift \(text)")
        }
        // The trigram index serves patterns with a leading wildcard.
        try f.connection.execute("SET enable_seqscan = off")
        let plan = try f.connection.query(
            "EXPLAIN SELECT id FROM certbus.certificates_matching_name('*.example.test')").map { try $0.decode("QUERY PLAN", as: String.self) }
        try f.connection.execute("RESET enable_seqscan")
        #expect(plan.joined(separator: "\n").contains("certificates_names_trigram"), "\(plan)")
    }

    @Test func profilesEndpointsAndCombinedCriteria() throws {
        let f = try CertFixture()
        let (a, _) = try issue(f, ["a.example.test"])
        let (b, _) = try issue(f, ["b.example.test"])
        let (served, _) = try issue(f, ["s.example.test"])
        var draft = RAProfileDraft(name: "api", ca: "test-ca")
        draft.allowedDomains = ["*.example.test"]
        _ = try RAProfileStore.create(draft, actor: f.actor, on: f.connection)
        let (c, _) = try issue(f, ["c.example.test"], profile: "api")
        // a is expected on lb-1; the last validation of lb-1 saw `served`.
        let endpoint = try EndpointStore.add(EndpointDraft(name: "lb-1", kind: .sensor, host: "lb.example.test", expectedCertificate: a.uuidString),
                                             actor: f.actor, on: f.connection)
        let servedFingerprint = try #require(try CertificateStore.find(idOrFingerprint: served.uuidString, on: f.connection)).fingerprint
        try f.connection.execute(
            """
            INSERT INTO certbus.deployment_validations (endpoint_id, outcome, address, served_fingerprint, problems)
            VALUES ($1, 'FAILED', 'lb.example.test:443', $2, '[{"code": "FINGERPRINT_MISMATCH", "message": "x"}]')
            """, [endpoint.id, servedFingerprint])

        #expect(try select(f, CertificateSelector(profile: "web")) == [a, b, served])
        #expect(try select(f, CertificateSelector(profile: "api")) == [c])
        #expect(try select(f, CertificateSelector(endpoint: "lb-1")) == [a, served])
        #expect(try ids(f, "SELECT id FROM certbus.certificates_on_endpoint($1)", ["lb-1"]) == [a, served])
        #expect(try select(f, CertificateSelector(sanPattern: try CertificateNamePattern("*.example.test"), profile: "web", endpoint: "lb-1")) == [a, served])
        #expect(try select(f, CertificateSelector(issuedBy: "test-ca-root", sanPattern: try CertificateNamePattern("c.*"))) == [c])
        let filter = CertificateFilter(statuses: ["valid"], selection: try CertificateSelection.resolve(CertificateSelector(profile: "web"), on: f.connection), limit: 1)
        #expect(try CertificateStore.list(filter, on: f.connection).count == 1)
        #expect(try CertificateStore.count(filter, on: f.connection) == 3)
    }

    @Test(arguments: [
        (CertificateSelector(issuedBy: "nope"), "unknown CA \"nope\""),
        (CertificateSelector(profile: "nope"), "unknown profile \"nope\""),
        (CertificateSelector(endpoint: "nope"), "unknown endpoint \"nope\""),
        (CertificateSelector(sharingKeyOf: "6f1c4f65-0000-4000-8000-000000000000"), "unknown certificate 6f1c4f65-0000-4000-8000-000000000000"),
        (CertificateSelector(sharingKeyOf: "not-an-id"), "unknown certificate not-an-id"),
        (CertificateSelector(), "give at least one of"),
    ])
    func unknownNamesAreRefused(_ selector: CertificateSelector, _ message: String) throws {
        let f = try CertFixture()
        #expect {
            try CertificateSelection.resolve(selector, on: f.connection)
        } throws: { error in
            (error as? CertificateSelectionError)?.message.contains(message) == true
        }
    }
}
