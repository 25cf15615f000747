import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres
import Testing

@testable import CertbusServices

/// An operator's request for a certificate from an ACME CA, run by a real worker through the
/// ISSUE_CERT handler against pebble (a test database and a pebble process of its own).
@Suite(.serialized) struct ACMEEndToEndTests {
    // async, and waiting with Task.sleep: the ACME client runs as a task on Swift's cooperative
    // pool (two threads here), which a test sleeping on one of them helps to starve.
    @Test func requestIssuedByAWorkerThroughPebble() async throws {
        let fixture = try ACMEConnectorFixture(name: "pebble-e2e")
        var draft = RAProfileDraft(name: "acme-web", ca: fixture.authority.name)
        draft.allowedDomains = ["localhost"]
        draft.validityDays = 90
        let profileDraft = draft
        let profile = try await fixture.pool.withConnection { c in try RAProfileStore.create(profileDraft, actor: .user("alice"), on: c) }
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        var request = CertificateRequestDraft(profile: profile.name)
        request.csrPEM = csr.pem
        let requestDraft = request
        let submitted = try await fixture.pool.withConnection { c in
            try CertificateRequests.submit(requestDraft, actor: .user("alice"), registry: fixture.registry, on: c)
        }
        let jobId = try #require(submitted.jobId)

        var options = WorkerOptions()
        options.concurrency = 2
        options.pollInterval = 0.2
        options.runsMaintenance = false
        let worker = try Worker(
            configuration: fixture.db.configuration(applicationName: "certbus-acme-e2e"),
            handlers: HandlerRegistry(CertificateServices.handlers(registry: fixture.registry)), options: options,
            log: ServiceLog.standardError(minimumLevel: .warning))
        try worker.start()
        defer { worker.stop(grace: 5) }

        let deadline = Date().addingTimeInterval(240)
        var status = "QUEUED"
        while Date() < deadline {
            status = try await fixture.pool.withConnection { c in
                try c.query("SELECT status FROM certbus.jobs WHERE id = $1", [jobId])[0].decode("status", as: String.self)
            }
            if status == "SUCCESS" || status == "FAILED" { break }
            try await Task.sleep(nanoseconds: 200_000_000)
        }
        let row = try #require(
            try await fixture.pool.withConnection { c in
                try c.query(
                    "SELECT status, error, issued_certificate_id, ca_request_id FROM certbus.jobs WHERE id = $1", [jobId]
                ).firstRow
            })
        let jobError = try row.decode("error", as: String?.self)
        #expect(status == "SUCCESS", "job error: \(jobError ?? "none")")
        let certificateId = try #require(try row.decode("issued_certificate_id", as: UUID?.self))
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
}
