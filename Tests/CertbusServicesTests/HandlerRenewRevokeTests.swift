import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres
import Testing
@testable import CertbusServices

@Suite(.serialized) struct HandlerRenewRevokeTests {
    func issued(_ f: CertFixture, csr: Bool = true) throws -> (CertificateRecord, PrivateKey?) {
        var payload = IssueCertificatePayload(profile: "web", commonName: "renew.example.test", subjectAlternativeNames: ["www.example.test"])
        var key: PrivateKey?
        if csr {
            let (request, privateKey) = try CertFixture.csr(["renew.example.test", "www.example.test"])
            payload = IssueCertificatePayload(profile: "web", csr: request.pem)
            key = privateKey
        }
        let id = try #require(try f.process(f.issue, payload: payload).1.get().issuedCertificateId)
        return (try #require(try CertificateStore.find(idOrFingerprint: id.uuidString, on: f.connection)), key)
    }

    func certificate(_ f: CertFixture, _ id: UUID) throws -> CertificateRecord {
        try #require(try CertificateStore.find(idOrFingerprint: id.uuidString, on: f.connection))
    }

    @Test func renewalKeepsNamesAndKeyAndLinksTheLineage() throws {
        let f = try CertFixture()
        let (old, key) = try issued(f)
        let (jobId, outcome) = try f.process(f.renew, payload: RenewCertificatePayload(certificateId: old.id))
        let newId = try #require(try outcome.get().issuedCertificateId)
        let renewed = try certificate(f, newId)
        #expect(renewed.predecessorId == old.id)
        #expect(renewed.subjectAlternativeNames == old.subjectAlternativeNames)
        #expect(try Certificate(pem: renewed.certificatePEM!).matches(try #require(key)))
        #expect(renewed.serialNumber != old.serialNumber)
        let before = try certificate(f, old.id)
        #expect(before.successorId == newId)
        #expect(before.renewAt == nil)
        #expect(try CertificateStore.lineage(of: newId, on: f.connection).map(\.id) == [old.id, newId])
        #expect(try f.connection.query("SELECT generation FROM certbus.certificate_lineage WHERE certificate_id = $1", [newId]).firstRow!.decode("generation", as: Int.self) == 1)
        #expect(try f.jobState(jobId).issued == newId)
        #expect(try f.count("audit_log", where: "action IN ('RENEWAL_INITIATED', 'RENEWAL_COMPLETED')") == 2)
        #expect(try f.count("events", where: "payload->>'action' = 'RENEW' AND payload->>'predecessor_id' = '\(old.id.uuidString.lowercased())'") == 1)

        // The same certificate cannot be renewed twice; renewing its successor is the way on.
        guard case .failure(let twice) = try f.process(f.renew, payload: RenewCertificatePayload(certificateId: old.id)).1 else {
            Issue.record("renewed a certificate twice")
            return
        }
        #expect(twice.isPermanent)
        #expect(twice.message.contains("already renewed by \(newId.uuidString.lowercased())"))
        #expect(try certificate(f, old.id).renewalFailures == 0)
    }

    @Test func rekeyGeneratesANewServerHeldKey() throws {
        let f = try CertFixture()
        let (old, key) = try issued(f)
        let newId = try #require(try f.process(f.renew, payload: RenewCertificatePayload(certificateId: old.id, rekey: true)).1.get().issuedCertificateId)
        let renewed = try certificate(f, newId)
        #expect(renewed.hasServerKey)
        #expect(!(try Certificate(pem: renewed.certificatePEM!).matches(try #require(key))))
        #expect(try f.count("events", where: "payload->>'action' = 'REKEY'") == 1)
    }

    @Test func renewingAServerHeldKeyReusesItUnlessRekeyed() throws {
        let f = try CertFixture()
        let (old, _) = try issued(f, csr: false)
        let oldKey = try Certificate(pem: old.certificatePEM!).publicKey
        let newId = try #require(try f.process(f.renew, payload: RenewCertificatePayload(certificateId: old.id)).1.get().issuedCertificateId)
        let renewed = try certificate(f, newId)
        #expect(renewed.hasServerKey)
        #expect(try Certificate(pem: renewed.certificatePEM!).publicKey == oldKey)
        // Its key can be exported (once) and matches.
        let export = try CertificateExport.export(id: newId.uuidString, withKey: true, keyEncryptionKey: f.kek, actor: f.actor, on: f.connection)
        #expect(try Certificate(pem: export.certificatePEM).matches(try PrivateKey(pem: try #require(export.privateKeyPEM))))
        do {
            _ = try CertificateExport.export(id: newId.uuidString, withKey: true, keyEncryptionKey: f.kek, actor: f.actor, on: f.connection)
            Issue.record("exported a key twice")
        } catch let error as CertificateExportError {
            #expect(error.message.contains("already exported"))
        }
        #expect(try f.count("audit_log", where: "action = 'PRIVATE_KEY_EXPORTED'") == 1)
        // A CSR certificate has no key to export.
        let (csrCertificate, _) = try issued(f)
        #expect(throws: CertificateExportError.self) {
            try CertificateExport.export(id: csrCertificate.id.uuidString, withKey: true, keyEncryptionKey: f.kek, actor: f.actor, on: f.connection)
        }
    }

    @Test func aFailedRenewalBacksOffAndRaisesOneAlert() throws {
        let f = try CertFixture()
        let (old, _) = try issued(f)
        // The profile no longer allows the certificate's names: renewal fails for good.
        try f.connection.execute("UPDATE certbus.ra_profiles SET allowed_domains = ARRAY['*.other.test']")
        let (jobId, outcome) = try f.process(f.renew, payload: RenewCertificatePayload(certificateId: old.id))
        guard case .failure(let failure) = outcome else { Issue.record("renewed outside the profile"); return }
        #expect(failure.isPermanent)
        #expect(try f.jobState(jobId).status == "FAILED")
        let after = try certificate(f, old.id)
        #expect(after.renewalFailures == 1)
        #expect(after.renewalLastError?.contains("outside the domains") == true)
        let renewAt = try #require(after.renewAt)
        #expect(renewAt > Date().addingTimeInterval(600))
        #expect(try f.count("alerts", where: "cause_key = 'renewal:\(old.id.uuidString.lowercased())' AND resolved_at IS NULL") == 1)
        #expect(try f.count("audit_log", where: "action = 'RENEWAL_FAILED'") == 1)
        // A second failure counts again but keeps one open alert.
        _ = try f.process(f.renew, payload: RenewCertificatePayload(certificateId: old.id))
        #expect(try certificate(f, old.id).renewalFailures == 2)
        #expect(try f.count("alerts", where: "cause_key = 'renewal:\(old.id.uuidString.lowercased())'") == 1)
        // Once renewal works again, the alert resolves and the counter resets.
        try f.connection.execute("UPDATE certbus.ra_profiles SET allowed_domains = ARRAY['*.example.test']")
        _ = try f.process(f.renew, payload: RenewCertificatePayload(certificateId: old.id)).1.get()
        #expect(try certificate(f, old.id).renewalFailures == 0)
        #expect(try f.count("alerts", where: "cause_key = 'renewal:\(old.id.uuidString.lowercased())' AND resolved_at IS NULL") == 0)
    }

    @Test func revocationUpdatesStatusCRLEventsAndAudit() throws {
        let f = try CertFixture()
        let (old, _) = try issued(f)
        let (jobId, outcome) = try f.process(f.revoke, payload: RevokeCertificatePayload(certificateId: old.id, reason: "keyCompromise"))
        _ = try outcome.get()
        #expect(try f.jobState(jobId).status == "SUCCESS")
        let revoked = try certificate(f, old.id)
        #expect(revoked.status == "REVOKED")
        #expect(revoked.revocationReason == "keyCompromise")
        #expect(revoked.renewAt == nil)
        let crl = try CertificateRevocationList(pem: try f.connection.query(
            "SELECT crl_pem FROM certbus.current_crls WHERE ca_id = $1", [f.intermediate.id]).firstRow!.decode("crl_pem"))
        #expect(crl.entries.map(\.serialNumber.hex) == [old.serialNumber])
        #expect(try f.count("events", where: "event_type = 'CERTIFICATE_STATUS_CHANGED' AND payload->>'new_status' = 'REVOKED' AND payload->>'old_status' = 'VALID'") == 1)
        #expect(try f.count("events", where: "event_type = 'CERTIFICATE_ACTION_PERFORMED' AND payload->>'action' = 'REVOKE'") == 1)
        #expect(try f.count("audit_log", where: "action = 'REVOCATION_COMPLETED'") == 1)
        // Revoking again changes nothing.
        _ = try f.process(f.revoke, payload: RevokeCertificatePayload(certificateId: old.id, reason: "superseded")).1.get()
        #expect(try certificate(f, old.id).revocationReason == "keyCompromise")
        #expect(try f.count("ca_crls", where: "ca_id = '\(f.intermediate.id.uuidString.lowercased())'") == 2)
        // A revoked certificate is not renewed.
        guard case .failure(let failure) = try f.process(f.renew, payload: RenewCertificatePayload(certificateId: old.id)).1 else {
            Issue.record("renewed a revoked certificate")
            return
        }
        #expect(failure.message.contains("is revoked"))
    }

    @Test(arguments: ["cACompromise", "certificateHold", "privilegeWithdrawn", "aACompromise", "removeFromCRL", "stolen"])
    func tlsServerCertificatesRefuseOtherReasons(_ reason: String) throws {
        let f = try CertFixture()
        let (old, _) = try issued(f)
        let (jobId, outcome) = try f.process(f.revoke, payload: RevokeCertificatePayload(certificateId: old.id, reason: reason), maxAttempts: 5)
        guard case .failure(let failure) = outcome else { Issue.record("revoked with \(reason)"); return }
        #expect(failure.isPermanent)
        #expect(failure.message.contains(reason))
        #expect(failure.message.contains("allowed: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation"))
        #expect(try f.jobState(jobId).status == "FAILED")
        #expect(try certificate(f, old.id).status == "VALID")
        #expect(try f.count("ca_issued_certificates", where: "revoked_at IS NOT NULL") == 0)
        #expect(try f.count("ca_crls") == 2)
        #expect(try f.count("audit_log", where: "action = 'REVOCATION_FAILED'") == 1)
    }

    @Test func refreshRecordsHealthAndWarnsOnceNearExpiry() throws {
        let f = try CertFixture()
        let payload = RefreshCAPayload(caId: f.intermediate.id)
        _ = try f.process(f.refresh, payload: payload).1.get()
        #expect(try f.connection.query("SELECT last_refreshed_at IS NOT NULL AS done FROM certbus.certificate_authorities WHERE id = $1", [f.intermediate.id]).firstRow!.decode("done", as: Bool.self))
        try f.connection.execute("UPDATE certbus.certificate_authorities SET configuration = configuration || '{\"expiryWarningDays\": 4000}' WHERE id = $1", [f.intermediate.id])
        _ = try f.process(f.refresh, payload: payload).1.get()
        _ = try f.process(f.refresh, payload: payload).1.get()
        let cause = "ca:\(f.intermediate.id.uuidString.lowercased()):CA_CERTIFICATE_EXPIRING"
        #expect(try f.count("alerts", where: "cause_key = '\(cause)' AND resolved_at IS NULL AND alert_type = 'WARN'") == 1)
        try f.connection.execute("UPDATE certbus.certificate_authorities SET configuration = configuration || '{\"expiryWarningDays\": 30}' WHERE id = $1", [f.intermediate.id])
        _ = try f.process(f.refresh, payload: payload).1.get()
        #expect(try f.count("alerts", where: "cause_key = '\(cause)' AND resolved_at IS NULL") == 0)
        // An unknown CA fails at once.
        let (jobId, outcome) = try f.process(f.refresh, payload: RefreshCAPayload(caId: UUID()))
        guard case .failure(let failure) = outcome else { Issue.record("refreshed an unknown CA"); return }
        #expect(failure.isPermanent)
        #expect(failure.message.hasPrefix("unknown CA"))
        #expect(try f.jobState(jobId).status == "FAILED")
    }
}
