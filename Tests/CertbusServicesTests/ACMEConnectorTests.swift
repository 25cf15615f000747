import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

@testable import CertbusServices

/// The ACME CA connector: the CA row, the registry, idempotent issuance, revocation, refresh.
@Suite struct ACMEConnectorTests {
    @Test func provisionsAnACMECARowWithASealedAccountKeyAndAnAuditRow() throws {
        let fixture = try ACMEConnectorFixture()
        let authority = fixture.authority
        #expect(authority.kind == "ACME")
        #expect(authority.status == .active)
        #expect(authority.certificatePEM == nil)
        let sealed = try #require(authority.encryptedPrivateKey)
        let key = try ACMEAccountKeyVault.open(sealed, caID: authority.id, with: fixture.kek)
        #expect(key.algorithm == .ecdsaP256)
        let settings = try authority.configuration(as: ACMESettings.self)
        #expect(settings.contact == ["ops@certbus.test"])
        #expect(settings.accountURL == nil)
        let audits = try fixture.pool.withConnection { c in
            try c.query("SELECT action FROM certbus.audit_log WHERE entity_id = $1", [authority.id.uuidString.lowercased()])
                .map { row -> String in try row.decode("action") }
        }
        #expect(audits == ["CA_CREATED"])

        let duplicate = #expect(throws: CACreationError.self) {
            try fixture.pool.withConnection { c in
                try ACMECAProvisioner.create(
                    name: "pebble", settings: settings, keyEncryptionKey: fixture.kek, actor: .user("alice"), on: c)
            }
        }
        #expect(duplicate?.message == "a CA named \"pebble\" already exists")
        let invalid = #expect(throws: CACreationError.self) {
            try fixture.pool.withConnection { c in
                try ACMECAProvisioner.create(
                    name: "other", settings: ACMESettings(directoryURL: "http://ca.example/dir"),
                    keyEncryptionKey: fixture.kek, actor: .user("alice"), on: c)
            }
        }
        #expect(invalid?.message.contains("must use https") == true)
        let count: Int = try fixture.pool.withConnection { c in
            try c.query("SELECT count(*)::int AS n FROM certbus.certificate_authorities").firstRow!.decode("n")
        }
        #expect(count == 1)
    }

    @Test func issuesRecordsTheOrderURLFirstAndRemembersTheAccount() async throws {
        let fixture = try ACMEConnectorFixture()
        let connector = try fixture.registry.connector(for: fixture.authority)
        #expect(connector is ACMEConnector)
        let request = try ACMEConnectorFixture.request(for: ["localhost"])
        let recorded = RecordedIds()
        let context = fixture.context(recorded: recorded)
        let progress = ProgressRecorder()

        let issued = try await onWorkerThread {
            try (connector as! ACMEConnector).issue(request, context: context, progress: progress.handler)
        }

        #expect(recorded.all == [issued.caRequestId])
        #expect(issued.caRequestId.hasPrefix("https://localhost:\(fixture.pebble.port)/my-order/"))
        #expect(issued.certificate.dnsNames == ["localhost"])
        #expect(try issued.certificate.publicKey == request.csr.publicKey)
        #expect(!issued.chain.isEmpty)
        #expect(try issued.certificate.verify(issuer: issued.chain[0]) == ())
        #expect(progress.statuses == [.creatingAccount, .accountCreated, .validatingDomain, .domainValidated,
                                      .issuingCertificate, .certificateIssued])
        let stored = try fixture.reload().configuration(as: ACMESettings.self)
        #expect(stored.accountURL?.hasPrefix("https://localhost:\(fixture.pebble.port)/my-account/") == true)

        // The row changed, so the registry rebuilds the connector, which now knows the account.
        let rebuilt = try #require(try fixture.registry.connector(for: try fixture.reload()) as? ACMEConnector)
        #expect(rebuilt.client.knownAccount?.url.absoluteString == stored.accountURL)
    }

    @Test func aRetriedRequestResumesItsOrderAndGetsTheSameCertificate() async throws {
        let fixture = try ACMEConnectorFixture()
        let connector = try fixture.registry.connector(for: fixture.authority)
        var request = try ACMEConnectorFixture.request(for: ["localhost"])
        let first = try await onWorkerThread { [request] in
            try connector.issue(request, context: fixture.context())
        }

        // The job crashed before its commit; the retry carries the recorded order URL.
        request.previousCARequestId = first.caRequestId
        let recorded = RecordedIds()
        let again = try await onWorkerThread { [request] in
            try connector.issue(request, context: fixture.context(recorded: recorded))
        }

        #expect(again.caRequestId == first.caRequestId)
        #expect(again.certificate == first.certificate)
        #expect(recorded.all.isEmpty)
    }

    @Test func anOrderURLThatCannotBeRecordedIsNeverFinalized() async throws {
        let fixture = try ACMEConnectorFixture()
        let connector = try fixture.registry.connector(for: fixture.authority) as! ACMEConnector
        let request = try ACMEConnectorFixture.request(for: ["localhost"])
        let progress = ProgressRecorder()

        let error = await #expect(throws: CAConnectorError.self) {
            try await onWorkerThread {
                try connector.issue(request, context: fixture.context(failRecording: true), progress: progress.handler)
            }
        }

        #expect(error?.code == .internalFailure)
        #expect(error?.isPermanent == false)
        #expect(error?.message.contains("could not record the ACME order URL, so the order was not finalized") == true)
        #expect(!progress.statuses.contains(.certificateIssued))
        let (orderURL, _) = try #require(progress.orders.first)
        #expect(try await connector.client.order(at: orderURL).certificate == nil)
    }

    @Test func failuresBecomeConnectorErrorsWithTheStepsStatus() async throws {
        let fixture = try ACMEConnectorFixture()
        let connector = try fixture.registry.connector(for: fixture.authority)

        let blocked = try ACMEConnectorFixture.request(for: ["shop.\(PebbleServer.blockedDomain)"])
        let rejected = await #expect(throws: CAConnectorError.self) {
            try await onWorkerThread { try connector.issue(blocked, context: fixture.context()) }
        }
        #expect(rejected?.code == .rejected)
        #expect(rejected?.isPermanent == true)
        #expect(rejected?.caName == "pebble")
        #expect(rejected?.message.hasPrefix("Validation failed: place order for shop.invalid: the CA refused: urn:ietf:params:acme:error:rejectedIdentifier") == true)

        // The request's names must be the CSR's: an ACME CA certifies what the CSR says.
        var changed = try ACMEConnectorFixture.request(for: ["localhost"])
        changed.subjectAlternativeNames = [.dnsName("localhost"), .dnsName("www.certbus.test")]
        let mismatched = changed
        let names = await #expect(throws: CAConnectorError.self) {
            try await onWorkerThread { try connector.issue(mismatched, context: fixture.context()) }
        }
        #expect(names?.code == .rejected)
        #expect(names?.message == "an ACME CA certifies exactly the CSR's names (localhost), but the request asks for localhost, www.certbus.test")

        fixture.pebble.kill()
        let request = try ACMEConnectorFixture.request(for: ["localhost"])
        let down = await #expect(throws: CAConnectorError.self) {
            try await onWorkerThread { try connector.issue(request, context: fixture.context()) }
        }
        #expect(down?.code == .unreachable)
        #expect(down?.isPermanent == false)
        // The account exists by now, so the failing step is the order (Validation failed).
        #expect(down?.message.hasPrefix("Validation failed: place order for localhost: CA unreachable") == true)
        #expect(down?.message.contains("connection refused") == true)
    }

    @Test func revokesAndARepeatedRevocationSucceedsAsAlreadyRevoked() async throws {
        let fixture = try ACMEConnectorFixture()
        let connector = try fixture.registry.connector(for: fixture.authority)
        let request = try ACMEConnectorFixture.request(for: ["localhost"])
        let issued = try await onWorkerThread { try connector.issue(request, context: fixture.context()) }
        let revocation = CARevocationRequest(
            certificate: issued.certificate, reason: .keyCompromise, caRequestId: issued.caRequestId)

        let first = try await onWorkerThread { try connector.revoke(revocation, context: fixture.context()) }
        let second = try await onWorkerThread { try connector.revoke(revocation, context: fixture.context()) }

        #expect(first.newlyRevoked)
        #expect(first.crlNumber == nil)
        #expect(!second.newlyRevoked)
    }

    @Test func refreshChecksTheDirectoryAndCreatesTheAccount() async throws {
        let fixture = try ACMEConnectorFixture()
        let connector = try fixture.registry.connector(for: fixture.authority)

        let result = try await onWorkerThread { try connector.refresh(context: fixture.context()) }

        #expect(result.summary.hasPrefix("ACME directory https://localhost:\(fixture.pebble.port)/dir reachable; account https://localhost:\(fixture.pebble.port)/my-account/"))
        #expect(result.warnings.isEmpty)
        #expect(try fixture.reload().configuration(as: ACMESettings.self).accountURL != nil)

        fixture.pebble.kill()
        let rebuilt = try fixture.registry.connector(for: try fixture.reload())
        let down = await #expect(throws: CAConnectorError.self) {
            try await onWorkerThread { try rebuilt.refresh(context: fixture.context()) }
        }
        #expect(down?.code == .unreachable)
        #expect(down?.isPermanent == false)
    }

    @Test func aCARowThatCannotWorkIsAPermanentError() throws {
        let fixture = try ACMEConnectorFixture()
        var broken = fixture.authority
        broken.configurationJSON = #"{"directoryURL": "ftp://ca.example/dir"}"#
        let misconfigured = #expect(throws: CAConnectorError.self) {
            try ACMEConnector(authority: broken, keyEncryptionKey: fixture.kek)
        }
        #expect(misconfigured?.code == .misconfigured)
        #expect(misconfigured?.isPermanent == true)
        #expect(misconfigured?.message.contains("must use https") == true)

        let otherKEK = KeyEncryptionKey(key: try SecretBox.Key.generate())
        let locked = #expect(throws: CAConnectorError.self) {
            try ACMEConnector(authority: fixture.authority, keyEncryptionKey: otherKEK)
        }
        #expect(locked?.code == .keyUnavailable)
        #expect(locked?.isPermanent == true)

        var keyless = fixture.authority
        keyless.encryptedPrivateKey = nil
        let missing = #expect(throws: CAConnectorError.self) {
            try ACMEConnector(authority: keyless, keyEncryptionKey: fixture.kek)
        }
        #expect(missing?.message.hasPrefix("an ACME CA needs its sealed account key") == true)
    }
}
