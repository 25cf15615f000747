import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres
import Testing
@testable import CertbusServices

@Suite(.serialized) struct HandlerApprovalTests {
    func fixture() throws -> CertFixture {
        try CertFixture(profileDraft: { $0.requiresApproval = true })
    }

    func pendingRequest(_ f: CertFixture, names: [String] = ["approve.example.test"]) throws -> (UUID, UUID) {
        let (csr, _) = try CertFixture.csr(names)
        let (jobId, outcome) = try f.process(f.issue, payload: IssueCertificatePayload(profile: "web", csr: csr.pem))
        let completion = try outcome.get()
        #expect(completion.issuedCertificateId == nil)
        #expect(completion.output?.contains("Approval pending") == true)
        #expect(try f.jobState(jobId).status == "SUCCESS")
        let request = try #require(try CertificateRequestStore.find(idempotencyKey: "job:\(jobId)", on: f.connection))
        #expect(request.status == .pendingApproval)
        let approval = try #require(try Approvals.list(status: .pending, on: f.connection).first)
        #expect(approval.requestId == request.id)
        #expect(approval.bindingSHA256 == request.computedBindingSHA256)
        return (approval.id, request.id)
    }

    @Test func anApprovedRequestIsIssuedByTheJobTheApprovalEnqueues() throws {
        let f = try fixture()
        let (approvalId, requestId) = try pendingRequest(f)
        #expect(try f.count("events", where: "event_type = 'APPROVAL_REQUESTED'") == 1)
        #expect(try f.count("certificates") == 0)

        let (approval, jobId) = try Approvals.approve(id: approvalId, actor: .user("boss"), comment: "ok", on: f.connection)
        #expect(approval.status == .approved)
        #expect(approval.decidedBy == "USER:boss")
        let payload = try f.connection.query("SELECT payload->>'request_id' AS r FROM certbus.jobs WHERE id = $1", [jobId]).firstRow!
        #expect(try payload.decode("r", as: String.self) == requestId.uuidString.lowercased())
        let completion = try f.finish(f.issue, try f.claim(.issueCertificate)).get()
        #expect(completion.issuedCertificateId != nil)
        #expect(try CertificateRequestStore.find(id: requestId, on: f.connection)?.status == .issued)
        #expect(try f.count("events", where: "event_type = 'APPROVAL_CLOSED' AND payload->>'status' = 'APPROVED'") == 1)
        #expect(try f.count("audit_log", where: "action = 'APPROVAL_GRANTED'") == 1)
        // A decided approval cannot be decided again.
        #expect(throws: ApprovalError.self) { try Approvals.deny(id: approvalId, actor: .user("boss"), on: f.connection) }
    }

    @Test func aDeniedRequestEndsWithApprovalDenied() throws {
        let f = try fixture()
        let (approvalId, requestId) = try pendingRequest(f)
        let denied = try Approvals.deny(id: approvalId, actor: .user("boss"), reason: "not ours", on: f.connection)
        #expect(denied.status == .denied)
        let request = try #require(try CertificateRequestStore.find(id: requestId, on: f.connection))
        #expect(request.status == .denied)
        #expect(request.error == "Approval denied: not ours")
        // A job for the denied request (e.g. enqueued by hand) fails with "Approval denied" and changes nothing.
        let (jobId, outcome) = try f.process(f.issue, payload: IssueCertificatePayload(requestId: requestId))
        guard case .failure(let failure) = outcome else { Issue.record("issued a denied request"); return }
        #expect(failure.isPermanent)
        #expect(failure.message.hasPrefix("Approval denied"))
        #expect(try f.jobState(jobId).status == "FAILED")
        #expect(try f.count("certificates") == 0)
        #expect(throws: ApprovalError.self) { try Approvals.approve(id: approvalId, actor: .user("boss"), on: f.connection) }
    }

    @Test func anApprovalReleasesOnlyTheExactRequestItWasGivenFor() throws {
        let f = try fixture()
        let (approvalId, requestId) = try pendingRequest(f)
        // Someone swaps the CSR of the waiting request for another one.
        let (other, _) = try CertFixture.csr(["approve.example.test"])
        try f.connection.execute("UPDATE certbus.certificate_requests SET csr_pem = $2 WHERE id = $1", [requestId, other.pem])
        do {
            _ = try Approvals.approve(id: approvalId, actor: .user("boss"), on: f.connection)
            Issue.record("approved a request whose CSR changed")
        } catch let error as ApprovalError {
            #expect(error.message.contains("does not match"))
        }
        #expect(try Approvals.find(id: approvalId, on: f.connection)?.status == .pending)
        #expect(try f.count("jobs", where: "kind = 'ISSUE_CERT' AND status = 'QUEUED'") == 0)
    }

    @Test func aRequestChangedAfterApprovalIsRefusedByTheHandler() throws {
        let f = try fixture()
        let (approvalId, requestId) = try pendingRequest(f)
        _ = try Approvals.approve(id: approvalId, actor: .user("boss"), on: f.connection)
        try f.connection.execute("UPDATE certbus.certificate_requests SET subject_alternative_names = ARRAY['approve.example.test','extra.example.test'] WHERE id = $1", [requestId])
        guard case .failure(let failure) = try f.finish(f.issue, try f.claim(.issueCertificate)) else {
            Issue.record("issued a request changed after its approval")
            return
        }
        #expect(failure.isPermanent)
        #expect(failure.message.contains("was given for different request parameters"))
        #expect(try f.count("certificates") == 0)
        #expect(try f.count("ca_issued_certificates") == 0)
    }

    @Test func pendingApprovalsExpire() throws {
        let f = try fixture()
        let (approvalId, requestId) = try pendingRequest(f)
        try f.connection.execute("UPDATE certbus.approvals SET expires_at = now() - interval '1 second', created_at = now() - interval '1 day' WHERE id = $1", [approvalId])
        #expect(throws: ApprovalError.self) { try Approvals.approve(id: approvalId, actor: .user("boss"), on: f.connection) }
        #expect(try Approvals.expire(on: f.connection) == 1)
        #expect(try Approvals.find(id: approvalId, on: f.connection)?.status == .expired)
        #expect(try CertificateRequestStore.find(id: requestId, on: f.connection)?.status == .expired)
        #expect(try f.count("events", where: "event_type = 'APPROVAL_CLOSED' AND payload->>'status' = 'EXPIRED'") == 1)
        #expect(try Approvals.expire(on: f.connection) == 0)
    }
}
