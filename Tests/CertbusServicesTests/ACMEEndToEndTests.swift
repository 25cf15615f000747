import CertbusBus
import CertbusCore
import CertbusHTTP
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

@testable import CertbusServices

/// An operator's request for a certificate from an ACME CA, run by a real worker through the
/// ISSUE_CERT handler against pebble (a test database and a pebble process of its own).
@Suite(.serialized) struct ACMEEndToEndTests {
    // Async, so that waiting never holds one of the cooperative pool's threads, on which the
    // ACME client's work runs (ACMEBlocking).
    @Test func requestIssuedByAWorkerThroughPebble() async throws {
        let fixture = try ACMEConnectorFixture(name: "pebble-e2e")
        var profileDraft = RAProfileDraft(name: "acme-web", ca: fixture.authority.name)
        profileDraft.allowedDomains = ["localhost"]
        profileDraft.validityDays = 90
        let draft = profileDraft
        let profile = try await fixture.pool.withConnection { c in try RAProfileStore.create(draft, actor: .user("alice"), on: c) }
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        var requestDraft = CertificateRequestDraft(profile: profile.name)
        requestDraft.csrPEM = csr.pem
        let request = requestDraft
        let submitted = try await fixture.pool.withConnection { c in
            try CertificateRequests.submit(request, actor: .user("alice"), registry: fixture.registry, on: c)
        }
        let jobId = try #require(submitted.jobId)

        let worker = try Self.startWorker(fixture, concurrency: 2, name: "certbus-acme-e2e")
        defer { worker.stop(grace: 5) }

        let certificateId = try await Self.issuedCertificate(of: jobId, fixture)
        let row = try #require(
            try await fixture.pool.withConnection { c in
                try c.query("SELECT ca_request_id FROM certbus.jobs WHERE id = $1", [jobId]).firstRow
            })
        // The CA request id is pebble's order URL, recorded before validation.
        #expect(try row.decode("ca_request_id", as: String?.self)?.contains("/my-order/") == true)
        let stored = try #require(
            try await fixture.pool.withConnection { c in
                try c.query(
                    "SELECT certificate_pem, subject_alternative_names, ca_id FROM certbus.certificates WHERE id = $1",
                    [certificateId]
                ).firstRow
            })
        #expect(try stored.decode("ca_id", as: UUID.self) == fixture.authority.id)
        #expect(try stored.decode("subject_alternative_names", as: [String].self).contains("localhost"))
        let leaf = try Certificate(pem: try stored.decode("certificate_pem", as: String.self))
        #expect(leaf.issuer.description.lowercased().contains("pebble"))
        // The same lifecycle trail as the built-in CA: audit rows and the action event.
        let audited = try await fixture.pool.withConnection { c in
            try c.query(
                "SELECT count(*) AS n FROM certbus.audit_log WHERE action = 'ISSUANCE_COMPLETED' AND entity_id = $1",
                [certificateId.uuidString.lowercased()])[0].decode("n", as: Int.self)
        }
        #expect(audited == 1)
    }

    /// What certbus stores for an ACME certificate is the chain pebble served with it, and renewing
    /// it through the queue (RENEW_CERT, a new order at pebble) links the new certificate to the old.
    @Test func downloadedChainIsStoredAndRenewalThroughTheQueueKeepsTheLineage() async throws {
        let fixture = try ACMEConnectorFixture(name: "pebble-lineage")
        var profileDraft = RAProfileDraft(name: "acme-line", ca: fixture.authority.name)
        profileDraft.allowedDomains = ["localhost"]
        let draft = profileDraft
        let profile = try await fixture.pool.withConnection { c in try RAProfileStore.create(draft, actor: .user("alice"), on: c) }
        let (csr, key) = try ACMETestFixture.csr(for: ["localhost"])
        var requestDraft = CertificateRequestDraft(profile: profile.name)
        requestDraft.csrPEM = csr.pem
        let request = requestDraft
        let submitted = try await fixture.pool.withConnection { c in
            try CertificateRequests.submit(request, actor: .user("alice"), registry: fixture.registry, on: c)
        }

        let worker = try Self.startWorker(fixture, concurrency: 1, name: "certbus-acme-lineage")
        defer { worker.stop(grace: 5) }

        let firstId = try await Self.issuedCertificate(of: try #require(submitted.jobId), fixture)
        // pebble's chain: its intermediate, which issued the leaf, under the root it serves.
        let http = HTTPClient(configuration: .init(trust: .caBundle(path: fixture.pebble.caCertificate)))
        let intermediatePEM = try #require(try await http.get(fixture.pebble.managementURL("intermediates/0")).bodyText)
        let rootPEM = try #require(try await http.get(fixture.pebble.managementURL("roots/0")).bodyText)
        let pebbleIntermediate = try Certificate(pem: intermediatePEM)
        let first = try await Self.stored(firstId, fixture)
        #expect(first.chain.map(\.sha256Fingerprint) == [pebbleIntermediate.sha256Fingerprint])
        try first.leaf.verify(issuer: pebbleIntermediate)
        #expect(first.leaf.matches(key))
        // The stored chain verifies with openssl against pebble's root alone.
        let root = try fixture.pebble.pki.write(rootPEM, to: "lineage-root.pem")
        let chain = try fixture.pebble.pki.write(first.chainPEM, to: "lineage-chain.pem")
        let leaf = try fixture.pebble.pki.write(first.leaf.pem, to: "lineage-leaf.pem")
        let verified = try OpenSSLCommand.capture(["verify", "-CAfile", root, "-untrusted", chain, leaf])
        #expect(verified.status == 0, "\(verified.combined)")

        let renewalJob = try await fixture.pool.withConnection { c in
            try CertificateRequests.renew(firstId.uuidString, rekey: false, actor: .user("alice"), on: c)
        }
        let secondId = try await Self.issuedCertificate(of: renewalJob, fixture)
        #expect(secondId != firstId)
        let second = try await Self.stored(secondId, fixture)
        #expect(second.predecessorId == firstId)
        #expect(second.leaf.serialNumberHex != first.leaf.serialNumberHex)
        #expect(second.leaf.matches(key)) // the CSR's key is reused without --rekey
        #expect(second.chain.map(\.sha256Fingerprint) == [pebbleIntermediate.sha256Fingerprint])
        let line = try await fixture.pool.withConnection { c in
            try c.query(
                "SELECT certificate_id, generation, predecessor_id, successor_id FROM certbus.certificate_lineage WHERE root_id = $1 ORDER BY generation",
                [firstId]
            ).map { row in
                (try row.decode("certificate_id", as: UUID.self), try row.decode("generation", as: Int.self),
                 try row.decode("predecessor_id", as: UUID?.self), try row.decode("successor_id", as: UUID?.self))
            }
        }
        #expect(line.map(\.0) == [firstId, secondId])
        #expect(line.map(\.1) == [0, 1])
        #expect(line[0].3 == secondId)
        #expect(line[1].2 == firstId)
    }

    /// A started worker with the certificate handlers of the fixture's registry, polling fast.
    private static func startWorker(_ fixture: ACMEConnectorFixture, concurrency: Int, name: String) throws -> Worker {
        var options = WorkerOptions()
        options.concurrency = concurrency
        options.pollInterval = 0.2
        options.runsMaintenance = false
        let worker = try Worker(
            configuration: fixture.db.configuration(applicationName: name),
            handlers: HandlerRegistry(CertificateServices.handlers(registry: fixture.registry)), options: options,
            log: ServiceLog.standardError(minimumLevel: .warning))
        try worker.start()
        return worker
    }

    /// Waits (up to four minutes) for job `id` to end and returns the certificate it issued.
    private static func issuedCertificate(of id: Int64, _ fixture: ACMEConnectorFixture) async throws -> UUID {
        let deadline = Date().addingTimeInterval(240)
        while Date() < deadline {
            let row = try #require(try await fixture.pool.withConnection { c in
                try c.query("SELECT status, error, issued_certificate_id FROM certbus.jobs WHERE id = $1", [id]).firstRow
            })
            let status = try row.decode("status", as: String.self)
            if status == "SUCCESS" { return try #require(try row.decode("issued_certificate_id", as: UUID?.self)) }
            if status == "FAILED" {
                throw TestServerFailure("job \(id) failed: \(try row.decode("error", as: String?.self) ?? "")\n\(fixture.pebble.log)")
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        throw TestServerFailure("job \(id) did not finish within 240 s")
    }

    /// The stored certificate `id`: its leaf, its chain (parsed and as stored) and its predecessor.
    private static func stored(_ id: UUID, _ fixture: ACMEConnectorFixture) async throws
        -> (leaf: Certificate, chain: [Certificate], chainPEM: String, predecessorId: UUID?) {
        let row = try #require(try await fixture.pool.withConnection { c in
            try c.query("SELECT certificate_pem, chain_pem, predecessor_id FROM certbus.certificates WHERE id = $1", [id]).firstRow
        })
        let chainPEM = try row.decode("chain_pem", as: String.self)
        return (try Certificate(pem: try row.decode("certificate_pem", as: String.self)), try Certificate.parseChain(pem: chainPEM),
                chainPEM, try row.decode("predecessor_id", as: UUID?.self))
    }
}
