import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres
import Testing
@testable import CertbusServices

@Suite(.serialized) struct CertSchedulerTests {
    func issue(_ f: CertFixture, _ name: String = "auto.example.test") throws -> UUID {
        let (csr, _) = try CertFixture.csr([name])
        return try #require(try f.process(f.issue, payload: IssueCertificatePayload(profile: "web", csr: csr.pem)).1.get().issuedCertificateId)
    }

    @Test func dueCertificatesAreRenewedOnceWithBackoffAndEndpointStatus() throws {
        let f = try CertFixture()
        let id = try issue(f)
        let quiet = try issue(f, "later.example.test")
        let scheduler = RenewalScheduler()
        #expect(try scheduler.run(f.connection) == "scheduled 0 renewals")

        try f.connection.execute("UPDATE certbus.certificates SET renew_at = now() - interval '1 minute' WHERE id = $1", [id])
        try f.connection.execute(
            "INSERT INTO certbus.endpoints (name, kind, host, expected_certificate_id, automation_status) VALUES ('web-1', 'SENSOR', 'web1.example.test', $1, 'NOT_CONFIGURED')", [id])
        _ = try f.connection.query("SELECT certbus.change_endpoint_status(id, 'CONFIGURED') FROM certbus.endpoints")
        #expect(try scheduler.run(f.connection) == "scheduled 1 renewals")
        let job = try #require(try f.connection.query(
            "SELECT id, unique_key, certificate_id, triggered_by_id FROM certbus.jobs WHERE kind = 'RENEW_CERT'").firstRow)
        #expect(try job.decode("unique_key", as: String.self) == "renew:\(id.uuidString.lowercased())")
        #expect(try job.decode("certificate_id", as: UUID.self) == id)
        #expect(try job.decode("triggered_by_id", as: String.self) == "renewal-scheduler")
        let record = try #require(try CertificateStore.find(idOrFingerprint: id.uuidString, on: f.connection))
        #expect(try #require(record.renewAt) > Date().addingTimeInterval(800))
        #expect(try f.count("audit_log", where: "action = 'JOB_ENQUEUED' AND details->>'status' = 'Auto renew scheduled'") == 1)
        #expect(try f.connection.query("SELECT automation_status FROM certbus.endpoints").firstRow!.decode("automation_status", as: String.self) == "AUTO_RENEW_SCHEDULED")

        // Due again while the job is still queued: no second job.
        try f.connection.execute("UPDATE certbus.certificates SET renew_at = now() - interval '1 minute' WHERE id = $1", [id])
        #expect(try scheduler.run(f.connection) == "scheduled 0 renewals, 1 already in flight")
        #expect(try f.count("jobs", where: "kind = 'RENEW_CERT'") == 1)

        // The renewal runs; the renewed certificate is never scheduled again.
        let renewed = try #require(try f.finish(f.renew, try f.claim(.renewCertificate)).get().issuedCertificateId)
        #expect(try CertificateStore.find(idOrFingerprint: id.uuidString, on: f.connection)?.renewAt == nil)
        try f.connection.execute("UPDATE certbus.certificates SET renew_at = now() - interval '1 minute' WHERE id = $1", [id])
        #expect(try scheduler.run(f.connection) == "scheduled 0 renewals")
        #expect(try CertificateStore.find(idOrFingerprint: renewed.uuidString, on: f.connection)?.renewAt != nil)
        #expect(try CertificateStore.find(idOrFingerprint: quiet.uuidString, on: f.connection)?.renewalFailures == 0)
    }

    @Test func profilesWithoutAutoRenewAndRevokedCertificatesAreLeftAlone() throws {
        let f = try CertFixture(profileDraft: { $0.autoRenew = false })
        let id = try issue(f)
        try f.connection.execute("UPDATE certbus.certificates SET renew_at = now() - interval '1 minute' WHERE id = $1", [id])
        #expect(try RenewalScheduler().run(f.connection) == "scheduled 0 renewals")
        try f.connection.execute("UPDATE certbus.ra_profiles SET auto_renew = true")
        try f.connection.execute("UPDATE certbus.certificates SET status = 'REVOKED', revoked_at = now() WHERE id = $1", [id])
        #expect(try RenewalScheduler().run(f.connection) == "scheduled 0 renewals")
        #expect(try f.count("jobs", where: "kind = 'RENEW_CERT'") == 0)
    }

    @Test func caRefreshIsScheduledOncePerCA() throws {
        let f = try CertFixture()
        let task = CARefreshScheduler()
        #expect(try task.run(f.connection) == "enqueued 2 CA refreshes for 2 CAs")
        #expect(try task.run(f.connection) == "enqueued 0 CA refreshes for 2 CAs")
        #expect(try f.count("jobs", where: "kind = 'CA_REFRESH' AND unique_key = 'ca:\(f.intermediate.id.uuidString.lowercased())'") == 1)
        _ = try f.finish(f.refresh, try f.claim(.refreshCA)).get()
        _ = try f.finish(f.refresh, try f.claim(.refreshCA)).get()
        #expect(try task.run(f.connection) == "enqueued 2 CA refreshes for 2 CAs")
    }

    @Test func submittedRequestsAreCheckedBeforeAnythingIsWritten() throws {
        let f = try CertFixture()
        let (csr, _) = try CertFixture.csr(["sub.example.test"])
        var draft = CertificateRequestDraft(profile: "web")
        draft.csrPEM = csr.pem
        let submitted = try CertificateRequests.submit(draft, actor: f.actor, registry: f.registry, on: f.connection)
        #expect(submitted.request.status == .queued)
        let jobId = try #require(submitted.jobId)
        #expect(try f.count("audit_log", where: "action IN ('ISSUANCE_INITIATED', 'CSR_SUBMITTED') AND entity_id = '\(submitted.request.id.uuidString.lowercased())'") == 2)
        let completion = try f.finish(f.issue, try f.claim(.issueCertificate)).get()
        #expect(try f.jobState(jobId).issued == completion.issuedCertificateId)
        // Only one ISSUANCE_INITIATED for the request (the job did not create it).
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_INITIATED'") == 1)

        let before = (try f.count("certificate_requests"), try f.count("jobs"), try f.count("audit_log"))
        var bad = CertificateRequestDraft(profile: "web")
        bad.csrPEM = "garbage"
        #expect(throws: RequestRefusal.self) { try CertificateRequests.submit(bad, actor: f.actor, registry: f.registry, on: f.connection) }
        var outside = CertificateRequestDraft(profile: "web")
        outside.commonName = "www.example.org"
        #expect(throws: RequestRefusal.self) { try CertificateRequests.submit(outside, actor: f.actor, registry: f.registry, on: f.connection) }
        #expect(throws: RequestRefusal.self) { try CertificateRequests.submit(CertificateRequestDraft(profile: "none"), actor: f.actor, registry: f.registry, on: f.connection) }
        #expect((try f.count("certificate_requests"), try f.count("jobs"), try f.count("audit_log")) == before)

        // The same idempotency key returns the first request.
        var keyed = CertificateRequestDraft(profile: "web")
        keyed.commonName = "keyed.example.test"
        keyed.idempotencyKey = "ticket-7"
        let one = try CertificateRequests.submit(keyed, actor: f.actor, registry: f.registry, on: f.connection)
        let two = try CertificateRequests.submit(keyed, actor: f.actor, registry: f.registry, on: f.connection)
        #expect(one.request.id == two.request.id)
        #expect(!two.created)
        #expect(one.jobId == two.jobId)
    }

    @Test func renewAndRevokeRequestsAreCheckedAndNotDuplicated() throws {
        let f = try CertFixture()
        let id = try issue(f)
        _ = try CertificateRequests.renew(id.uuidString, rekey: false, actor: f.actor, on: f.connection)
        #expect(throws: RequestRefusal.self) { try CertificateRequests.renew(id.uuidString, rekey: false, actor: f.actor, on: f.connection) }
        do {
            _ = try CertificateRequests.revoke(id.uuidString, reason: "cACompromise", actor: f.actor, on: f.connection)
            Issue.record("queued a revocation with a reason TLS server certificates may not use")
        } catch let refusal as RequestRefusal {
            #expect(refusal.message.contains("cACompromise is not an allowed revocation reason for a TLS server certificate"))
        }
        #expect(try f.count("jobs", where: "kind = 'REVOKE_CERT'") == 0)
        _ = try CertificateRequests.revoke(id.uuidString, reason: "keycompromise", actor: f.actor, on: f.connection)
        #expect(try f.connection.query("SELECT payload->>'reason' AS r FROM certbus.jobs WHERE kind = 'REVOKE_CERT'").firstRow!.decode("r", as: String.self) == "keyCompromise")
    }
}
