import CertbusCore
import Foundation
import PKI
import Postgres
import Testing
@testable import CertbusServices

@Suite(.serialized) struct CABuiltInTests {
    func issue(_ fixture: CertFixture, _ names: [String], key: String = UUID().uuidString, algorithm: KeyAlgorithm = .ecdsaP256,
               type: CertificateType = .tlsServer, days: Int = 90, connector: BuiltInCertificateAuthority? = nil) throws -> (CAIssuedCertificate, PrivateKey) {
        let (csr, privateKey) = try CertFixture.csr(names, algorithm: algorithm)
        let request = CAIssueRequest(idempotencyKey: key, csr: csr, subject: DistinguishedName(commonName: names[0]),
                                     subjectAlternativeNames: names.map(SubjectAlternativeName.dnsNameOrIPAddress),
                                     validityDays: days, certificateType: type)
        return (try (connector ?? fixture.connector()).issue(request, context: CAOperationContext(database: fixture.pool)), privateKey)
    }

    @Test func createsRootAndIntermediateThatOpenSSLVerifies() throws {
        let fixture = try CertFixture()
        #expect(fixture.root.name == "test-ca-root")
        #expect(fixture.intermediate.parentId == fixture.root.id)
        #expect(fixture.intermediate.kind == "BUILT_IN")
        let s = fixture.scratch
        try s.write(fixture.root.certificatePEM!, to: "root.pem")
        try s.write(fixture.intermediate.certificatePEM!, to: "intermediate.pem")
        let verify = try CertOpenSSL.run(["verify", "-x509_strict", "-CAfile", "root.pem", "intermediate.pem"], in: s)
        #expect(verify.status == 0, "\(verify.combined)")
        // Keys are sealed, never stored in the clear.
        let sealed = try #require(fixture.intermediate.encryptedPrivateKey)
        #expect(String(decoding: sealed, as: UTF8.self).contains("PRIVATE KEY") == false)
        #expect(throws: (any Error).self) { try PrivateKey(der: sealed) }
        // Each CA has published CRL number 1, and CA_CREATED is audited.
        #expect(try fixture.count("ca_crls", where: "crl_number = 1") == 2)
        #expect(try fixture.count("audit_log", where: "action = 'CA_CREATED'") == 2)
    }

    @Test func issuedChainVerifiesAndFollowsTheBaselineRequirements() throws {
        let fixture = try CertFixture()
        let (issued, _) = try issue(fixture, ["www.example.test", "api.example.test"])
        let leaf = issued.certificate
        let s = fixture.scratch
        try s.write(fixture.root.certificatePEM!, to: "root.pem")
        try s.write(issued.chain.first!.pem, to: "chain.pem")
        try s.write(leaf.pem, to: "leaf.pem")
        let verify = try CertOpenSSL.run(
            ["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", "root.pem", "-untrusted", "chain.pem", "leaf.pem"], in: s)
        #expect(verify.status == 0, "\(verify.combined)")

        #expect(leaf.dnsNames == ["www.example.test", "api.example.test"])
        #expect(leaf.subject.description == "CN=www.example.test")
        #expect(leaf.keyUsage == [.digitalSignature])
        #expect(leaf.extendedKeyUsage == [.serverAuth])
        #expect(!leaf.isCA)
        #expect(leaf.notAfter.timeIntervalSince(leaf.notBefore) <= 398 * 86400)
        #expect(leaf.crlDistributionPoints == ["http://crl.example.test/test-ca.crl"])
        // 128 random bits: at least 64 bits of entropy, and serials differ.
        let serial = try #require(leaf.serialNumber)
        #expect(serial.bytes.count >= 9)
        let (other, _) = try issue(fixture, ["www.example.test"])
        #expect(other.certificate.serialNumberHex != leaf.serialNumberHex)
        #expect(issued.caRequestId == leaf.serialNumberHex)
        #expect(issued.chain.map(\.sha256Fingerprint) == [fixture.intermediate, fixture.root].map { try! Certificate(pem: $0.certificatePEM!).sha256Fingerprint })
    }

    @Test func rsaLeavesGetDigitalSignatureOnly() throws {
        let fixture = try CertFixture()
        let (issued, _) = try issue(fixture, ["rsa.example.test"], algorithm: .rsa(bits: 2048))
        #expect(issued.certificate.keyUsage == [.digitalSignature])
    }

    @Test func theSameIdempotencyKeyNeverIssuesTwice() throws {
        let fixture = try CertFixture()
        let (first, _) = try issue(fixture, ["a.example.test"], key: "request-1")
        // A retry after a crash: a fresh CSR even, but the same key — the recorded certificate comes back.
        let (again, _) = try issue(fixture, ["a.example.test"], key: "request-1")
        #expect(again.certificate == first.certificate)
        #expect(try fixture.count("ca_issued_certificates", where: "idempotency_key = 'request-1'") == 1)
        // Concurrent attempts with one key agree too.
        let results = Locked<[String]>([])
        let connector = try fixture.connector()
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            if let (issued, _) = try? issue(fixture, ["b.example.test"], key: "request-2", connector: connector) {
                results.withLock { $0.append(issued.certificate.sha256Fingerprint) }
            }
        }
        #expect(results.withLock { $0.count } == 4)
        #expect(Set(results.withLock { $0 }).count == 1)
        #expect(try fixture.count("ca_issued_certificates", where: "idempotency_key = 'request-2'") == 1)
    }

    @Test func policyViolationsArePermanentRejections() throws {
        let fixture = try CertFixture()
        do {
            _ = try issue(fixture, ["long.example.test"], days: 399)
            Issue.record("a 399-day TLS server certificate was issued")
        } catch let error as CAConnectorError {
            #expect(error.isPermanent)
            #expect(error.code == .rejected)
            #expect(error.message.contains("may be valid for at most"))
        }
        #expect(try fixture.count("ca_issued_certificates") == 0)
    }

    @Test func revocationPublishesANewCRLThatOpenSSLVerifies() throws {
        let fixture = try CertFixture()
        let (issued, _) = try issue(fixture, ["gone.example.test"])
        let connector = try fixture.connector()
        let context = CAOperationContext(database: fixture.pool)
        let result = try connector.revoke(CARevocationRequest(certificate: issued.certificate, reason: .keyCompromise), context: context)
        #expect(result.newlyRevoked)
        #expect(result.crlNumber == 2)
        let again = try connector.revoke(CARevocationRequest(certificate: issued.certificate, reason: .superseded), context: context)
        #expect(!again.newlyRevoked)
        #expect(again.revokedAt == result.revokedAt)
        #expect(again.crlNumber == 2)

        let row = try #require(try fixture.connection.query(
            "SELECT crl_pem, crl_number, next_update FROM certbus.current_crls WHERE ca_id = $1", [fixture.intermediate.id]).firstRow)
        let crl = try CertificateRevocationList(pem: try row.decode("crl_pem"))
        #expect(crl.crlNumber == 2)
        #expect(crl.entries.map(\.serialNumber.hex) == [issued.certificate.serialNumberHex])
        #expect(crl.entries.first?.reason == .keyCompromise)
        let s = fixture.scratch
        try s.write(crl.pem, to: "crl.pem")
        try s.write(fixture.intermediate.certificatePEM!, to: "issuer.pem")
        try s.write(fixture.root.certificatePEM!, to: "root.pem")
        try s.write(issued.certificate.pem, to: "leaf.pem")
        let check = try CertOpenSSL.run(["crl", "-in", "crl.pem", "-CAfile", "issuer.pem", "-noout", "-verify"], in: s)
        #expect(check.status == 0 && check.combined.contains("verify OK"), "\(check.combined)")
        // openssl verify with CRL checking now refuses the leaf as revoked.
        try s.write(fixture.intermediate.certificatePEM! + fixture.root.certificatePEM!, to: "bundle.pem")
        let rootCRL = try fixture.connection.query(
            "SELECT crl_pem FROM certbus.current_crls WHERE ca_id = $1", [fixture.root.id]).firstRow!.decode("crl_pem", as: String.self)
        try s.write(crl.pem + rootCRL, to: "crls.pem")
        let revoked = try CertOpenSSL.run(
            ["verify", "-crl_check_all", "-CAfile", "bundle.pem", "-CRLfile", "crls.pem", "leaf.pem"], in: s)
        #expect(revoked.status != 0)
        #expect(revoked.combined.contains("certificate revoked"), "\(revoked.combined)")
    }

    @Test func revokingACertificateOfAnotherCAIsRefused() throws {
        let fixture = try CertFixture()
        let stranger = try CertificateIssuer.selfSignedRoot(key: try PrivateKey.generate(.ecdsaP256), subject: DistinguishedName(commonName: "x"))
        let (csr, _) = try CertFixture.csr(["x.example.test"])
        let foreign = try stranger.issue(for: csr, profile: .tlsServer())
        do {
            _ = try fixture.connector().revoke(CARevocationRequest(certificate: foreign, reason: .unspecified),
                                               context: CAOperationContext(database: fixture.pool))
            Issue.record("revoked a certificate the CA never issued")
        } catch let error as CAConnectorError {
            #expect(error.code == .notFound)
            #expect(error.isPermanent)
        }
        #expect(try fixture.count("ca_crls") == 2)
    }

    @Test func refreshPublishesWhenDueAndWarnsNearExpiry() throws {
        let fixture = try CertFixture()
        let connector = try fixture.connector()
        let context = CAOperationContext(database: fixture.pool)
        let quiet = try connector.refresh(context: context)
        #expect(quiet.publishedCRLNumber == nil)
        #expect(quiet.warnings.isEmpty)
        // Make the CRL due, and the warning horizon longer than the CA's life.
        try fixture.connection.execute("UPDATE certbus.ca_crls SET next_update = now() + interval '1 hour', this_update = now() - interval '1 day' WHERE ca_id = $1", [fixture.intermediate.id])
        try fixture.connection.execute("UPDATE certbus.certificate_authorities SET configuration = configuration || '{\"expiryWarningDays\": 4000}' WHERE id = $1", [fixture.intermediate.id])
        let warned = try fixture.connector().refresh(context: context)
        #expect(warned.publishedCRLNumber == 2)
        #expect(warned.warnings.map(\.code) == ["CA_CERTIFICATE_EXPIRING"])
        #expect(warned.warnings.first?.message.contains("expires in") == true)
    }

    @Test func disabledCAsAndUnknownKindsAreRefusedPermanently() throws {
        let fixture = try CertFixture()
        try fixture.connection.execute("UPDATE certbus.certificate_authorities SET status = 'DISABLED' WHERE id = $1", [fixture.intermediate.id])
        let disabled = try #require(try CertificateAuthorityStore.find(id: fixture.intermediate.id, on: fixture.connection))
        #expect(throws: CAConnectorError.permanent(.disabled, caName: "test-ca", "the CA is disabled; enable it or move the profile to another CA")) {
            try fixture.registry.connector(for: disabled)
        }
        // Disabled CAs still revoke and publish CRLs.
        #expect(try fixture.registry.connector(for: disabled, allowDisabled: true).authority.id == disabled.id)

        try fixture.connection.execute("UPDATE certbus.certificate_authorities SET kind = 'VAULT', status = 'ACTIVE' WHERE id = $1", [fixture.intermediate.id])
        let unknown = try #require(try CertificateAuthorityStore.find(id: fixture.intermediate.id, on: fixture.connection))
        do {
            _ = try fixture.registry.connector(for: unknown)
            Issue.record("an unknown kind got a connector")
        } catch let error as CAConnectorError {
            #expect(error.code == .unknownKind)
            #expect(error.message.contains("BUILT_IN"))
        }
    }

    @Test func aWrongKeyEncryptionKeyCannotOpenTheCA() throws {
        let fixture = try CertFixture()
        let other = KeyEncryptionKey(key: try SecretBox.Key.generate(), path: "/etc/other-kek")
        do {
            _ = try BuiltInCertificateAuthority(authority: fixture.intermediate, keyEncryptionKey: other)
            Issue.record("opened the CA key with another KEK")
        } catch let error as CAConnectorError {
            #expect(error.code == .keyUnavailable)
            #expect(error.message.contains("/etc/other-kek"))
            #expect(error.isPermanent)
        }
    }

    @Test func caNamesAreUniqueAndCreationIsAllOrNothing() throws {
        let fixture = try CertFixture()
        #expect(throws: CACreationError.self) {
            _ = try BuiltInCAProvisioner.create(BuiltInCASpecification(name: "test-ca"), keyEncryptionKey: fixture.kek,
                                                actor: fixture.actor, on: fixture.connection)
        }
        let bad = try #require(throws: CACreationError.self) {
            _ = try BuiltInCAProvisioner.create(BuiltInCASpecification(name: "x'; DROP TABLE certbus.jobs; --"), keyEncryptionKey: fixture.kek,
                                                actor: fixture.actor, on: fixture.connection)
        }
        // The message names what the user typed, not the derived root name.
        #expect(bad.message == "invalid CA name \"x'; DROP TABLE certbus.jobs; --\": use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        let long = String(repeating: "a", count: 60)
        let tooLong = try #require(throws: CACreationError.self) {
            _ = try BuiltInCAProvisioner.create(BuiltInCASpecification(name: long), keyEncryptionKey: fixture.kek,
                                                actor: fixture.actor, on: fixture.connection)
        }
        #expect(tooLong.message.contains("its root CA would be \"\(long)-root\""))
        #expect(try fixture.count("certificate_authorities") == 2)
        let single = try BuiltInCAProvisioner.create(BuiltInCASpecification(name: "solo", withIntermediate: false),
                                                     keyEncryptionKey: fixture.kek, actor: fixture.actor, on: fixture.connection)
        #expect(single.count == 1)
        #expect(single[0].parentId == nil)
    }
}

/// A value guarded by a lock, for collecting results from concurrent test code.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
