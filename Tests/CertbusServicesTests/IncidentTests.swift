import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing
@testable import CertbusServices

/// Incident mode over real certificates from the built-in CA (CertFixture: a fresh database per test,
/// dropped at the end), with a real `Worker` running the certificate handlers and
/// `certbus.advance_incidents` called the way the incident-advance task calls it.
@Suite(.serialized) struct IncidentTests {
    /// A CertFixture with a worker for the certificate jobs (and, optionally, deployment validation).
    final class Setup: @unchecked Sendable {
        let f: CertFixture
        var worker: Worker?

        init(function: String = #function, profileDraft: ((inout RAProfileDraft) -> Void)? = nil) throws {
            f = try CertFixture(profileDraft: profileDraft, function: function)
        }

        deinit { worker?.stop(grace: 5) }

        /// Starts a worker for `kinds` (default: the certificate jobs and VALIDATE_DEPLOYMENT).
        func startWorker(kinds: [JobKind] = [.issueCertificate, .renewCertificate, .revokeCertificate, .validateDeployment]) throws {
            var options = WorkerOptions()
            options.concurrency = 2
            options.pollInterval = 0.1
            options.runsMaintenance = false
            options.kinds = kinds
            options.backoff = Backoff(base: 0.1, maximum: 0.5, jitter: 0)
            let handlers: [any JobHandler] = CertificateServices.handlers(registry: f.registry) + [ValidateDeploymentHandler(probeTimeout: 3)]
            let worker = try Worker(configuration: f.db.configuration(applicationName: "certbus-incident-test"),
                                    handlers: HandlerRegistry(handlers), options: options, log: ServiceLog(minimumLevel: .error) { _, _, _ in })
            try worker.start()
            self.worker = worker
        }

        /// Issues a certificate for `names` from a CSR (the requester keeps the key); returns its id and key.
        func issue(_ names: [String], profile: String = "web") throws -> (id: UUID, key: PrivateKey) {
            let (csr, key) = try CertFixture.csr(names)
            let id = try #require(try f.process(f.issue, payload: IssueCertificatePayload(profile: profile, csr: csr.pem)).1.get().issuedCertificateId)
            return (id, key)
        }

        func open(_ selector: CertificateSelector, deadline: TimeInterval = 7200, revokeOld: Bool = false, reason: String? = nil) throws -> IncidentRun {
            try Incidents.open(IncidentRequest(selector: selector, deadline: Date().addingTimeInterval(deadline), revokeOld: revokeOld,
                                               revocationReason: reason), actor: f.actor, on: f.connection)
        }

        /// Calls certbus.advance_incidents until `done` holds (or fails the test after `timeout` seconds).
        func advance(until done: () throws -> Bool, timeout: Double = 90, _ what: String = "") throws {
            let deadline = Date().addingTimeInterval(timeout)
            while true {
                _ = try IncidentAdvanceTask.advanceOnce(on: f.connection)
                if try done() { return }
                guard Date() < deadline else {
                    Issue.record("timed out waiting for \(what)")
                    throw TestServerFailure("timed out waiting for \(what)")
                }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }

        func incident(_ id: Int64) throws -> IncidentRecord { try #require(try Incidents.find(id: id, on: f.connection)) }

        func item(_ incident: Int64, _ certificate: UUID) throws -> IncidentItemRecord {
            try #require(try Incidents.items(of: incident, on: f.connection).first { $0.certificateId == certificate })
        }

        func certificate(_ id: UUID) throws -> CertificateRecord {
            try #require(try CertificateStore.find(idOrFingerprint: id.uuidString, on: f.connection))
        }

        func publicKey(_ id: UUID) throws -> String? {
            try f.connection.query("SELECT public_key_sha256 FROM certbus.certificates WHERE id = $1", [id])[0].decode("public_key_sha256")
        }

        /// Row counts of everything an incident writes.
        func snapshot() throws -> [Int] {
            try ["incidents", "incident_items", "incident_deployments", "jobs", "audit_log", "events", "alerts", "certificates", "endpoints"]
                .map { try f.count($0) }
        }
    }

    @Test func anIncidentRenewsEverythingBelowACAWithNewKeysAndARerunChangesNothing() throws {
        let s = try Setup()
        let a = try s.issue(["a.example.test"])
        let b = try s.issue(["b.example.test"])
        let c = try s.issue(["c.example.test"])
        // Outside the selection: another CA.
        _ = try BuiltInCAProvisioner.create(BuiltInCASpecification(name: "other-ca"), keyEncryptionKey: s.f.kek, actor: s.f.actor,
                                            on: s.f.connection)
        var draft = RAProfileDraft(name: "other", ca: "other-ca")
        draft.allowedDomains = ["*.example.test"]
        _ = try RAProfileStore.create(draft, actor: s.f.actor, on: s.f.connection)
        let outside = try s.issue(["d.example.test"], profile: "other")

        let run = try s.open(CertificateSelector(issuedBy: "test-ca-root"))
        #expect(run.created)
        #expect(run.added == 3)
        // Their profile still issues from a CA of the selected subtree: the operator is told.
        #expect(run.plan.warnings == ["3 certificate(s) of profile web would be renewed by CA test-ca, which is in the selected subtree: point the profile at another CA first"])
        #expect(run.incident.state == "ACTIVE")
        #expect(run.incident.totals.renewing == 3)
        let jobs = try s.f.connection.query(
            "SELECT payload->>'certificate_id' AS id, (payload->>'rekey')::bool AS rekey, unique_key, priority, triggered_by_id FROM certbus.jobs WHERE kind = 'RENEW_CERT'")
        #expect(jobs.count == 3)
        for job in jobs {
            let id = try job.decode("id", as: String.self)
            #expect(try job.decode("rekey", as: Bool.self))
            #expect(try job.decode("unique_key", as: String.self) == "renew:\(id)")
            #expect(try job.decode("priority", as: Int.self) < 100)
            #expect(try job.decode("triggered_by_id", as: String.self) == "tester")
        }
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_OPENED'") == 1)
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_RENEWAL_QUEUED'") == 3)
        #expect(try s.f.count("events", where: "event_type = 'INCIDENT_OPENED' AND resource_id = '\(run.incident.id)'") == 1)

        try s.startWorker()
        let deadline = Date().addingTimeInterval(90)
        while try s.f.count("certificates", where: "predecessor_id IS NOT NULL") < 3, Date() < deadline { Thread.sleep(forTimeInterval: 0.1) }
        // What the scheduler runs every 5 s: calls until nothing moves, and says what it did.
        let summary = try IncidentAdvanceTask(batchSize: 2).run(s.f.connection)
        #expect(summary.contains("renewed 3") && summary.contains("done 3") && summary.contains("incidents finished 1"), "\(summary)")
        let finished = try s.incident(run.incident.id)
        #expect(finished.state == "COMPLETED")
        #expect(finished.totals.done == 3)
        for old in [a, b, c] {
            let item = try s.item(run.incident.id, old.id)
            #expect(item.state == .done)
            let successor = try s.certificate(try #require(item.successorId))
            #expect(successor.predecessorId == old.id)
            #expect(successor.subjectAlternativeNames == (try s.certificate(old.id)).subjectAlternativeNames)
            #expect(try s.publicKey(successor.id) != s.publicKey(old.id), "rekeyed")
            #expect(!(try Certificate(pem: try #require(successor.certificatePEM)).matches(old.key)))
            let before = try s.certificate(old.id)
            #expect(before.status == "VALID", "not revoked without --revoke-old")
            #expect(before.renewAt == nil)
        }
        #expect(try s.certificate(outside.id).successorId == nil)
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_CERTIFICATE_RENEWED'") == 3)
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_CERTIFICATE_DONE'") == 3)
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_FINISHED' AND details->>'outcome' = 'SUCCESS'") == 1)
        #expect(try s.f.count("events", where: "event_type = 'INCIDENT_FINISHED' AND payload->>'outcome' = 'SUCCESS' AND (payload->>'done')::int = 3") == 1)
        #expect(try s.f.count("events", where: "event_type = 'CERTIFICATE_ACTION_PERFORMED' AND payload->>'action' = 'REKEY'") == 3)

        // Running the same command again: the same incident, nothing renewed twice (the successors
        // match the selector too, but they are this incident's own replacements).
        let jobCount = try s.f.count("jobs")
        let again = try s.open(CertificateSelector(issuedBy: "test-ca-root"))
        #expect(!again.created)
        #expect(again.incident.id == run.incident.id)
        #expect(again.added == 0 && again.retried == 0 && again.started == 0)
        #expect(again.incident.runs == 2)
        #expect(again.incident.state == "COMPLETED")
        #expect(try s.f.count("jobs") == jobCount)
        #expect(try s.f.count("incidents") == 1)
        #expect(try s.f.count("events", where: "event_type = 'INCIDENT_OPENED'") == 1, "a run that changes nothing emits no event")
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_OPENED'") == 2, "but it is audited")
        // Different options make a different incident.
        let plan = try IncidentPlanner.plan(IncidentRequest(selector: CertificateSelector(issuedBy: "test-ca-root"),
                                                            deadline: Date().addingTimeInterval(3600), revokeOld: true,
                                                            revocationReason: "keyCompromise"), on: s.f.connection)
        #expect(plan.existing == nil)
    }

    @Test func aDryRunPlansAndChangesNothing() throws {
        let s = try Setup()
        let a = try s.issue(["a.example.test"])
        let b = try s.issue(["b.example.test"])
        _ = try EndpointStore.add(EndpointDraft(name: "lb-1", kind: .sensor, host: "lb.example.test", expectedCertificate: b.id.uuidString),
                                  actor: s.f.actor, on: s.f.connection)
        let before = try s.snapshot()
        let plan = try IncidentPlanner.plan(IncidentRequest(selector: CertificateSelector(profile: "web"), deadline: Date().addingTimeInterval(48 * 3600),
                                                            revokeOld: true, revocationReason: "keyCompromise"), on: s.f.connection)
        #expect(try s.snapshot() == before)
        #expect(plan.existing == nil)
        // The deployed certificate goes first.
        #expect(plan.items.map(\.certificateId) == [b.id, a.id])
        #expect(plan.items.map(\.plan) == [.renew, .renew])
        #expect(plan.items[0].endpoints.map(\.name) == ["lb-1"])
        #expect(plan.items[0].summary == "rekey renewal; validate on lb-1")
        #expect(plan.items.map(\.priority) == [40, 45])
        #expect(plan.schedule.waves == 1)
        #expect(plan.warnings.isEmpty)
    }

    @Test func revokeOldWaitsForTheSuccessorAndItsValidationOnTheEndpoint() throws {
        let s = try Setup()
        let plain = try s.issue(["plain.example.test"])
        let deployed = try s.issue(["127.0.0.1"])
        let deployedRecord = try s.certificate(deployed.id)
        let chain = try Certificate.parseChain(pem: try #require(deployedRecord.chainPEM))
        // The endpoint serves the old certificate.
        let oldServer = try ValidationTLSServer(certificate: try Certificate(pem: try #require(deployedRecord.certificatePEM)),
                                                key: deployed.key, chain: chain)
        let endpoint = try EndpointStore.add(
            EndpointDraft(name: "lb-1", kind: .sensor, host: "127.0.0.1", port: oldServer.port, expectedCertificate: deployed.id.uuidString),
            actor: s.f.actor, on: s.f.connection)

        let run = try s.open(CertificateSelector(issuedBy: "test-ca"), revokeOld: true, reason: "keyCompromise")
        try s.startWorker()
        try s.advance(until: { try s.item(run.incident.id, plain.id).state == .done }, "the undeployed certificate to be revoked")
        let plainItem = try s.item(run.incident.id, plain.id)
        let plainSuccessor = try s.certificate(try #require(plainItem.successorId))
        let plainRevoked = try s.certificate(plain.id)
        #expect(plainRevoked.status == "REVOKED")
        #expect(plainRevoked.revocationReason == "keyCompromise")
        #expect(try #require(plainRevoked.revokedAt) >= plainSuccessor.createdAt, "revoked only after its successor was issued")

        // The deployed one: its successor is expected on lb-1, but lb-1 still serves the old one.
        try s.advance(until: { try s.item(run.incident.id, deployed.id).state == .failed }, "the validation to fail")
        let failed = try s.item(run.incident.id, deployed.id)
        let successorId = try #require(failed.successorId)
        #expect(failed.failedStep == "DEPLOYMENT")
        #expect(failed.error?.contains("lb-1") == true)
        #expect(try EndpointStore.find(id: endpoint.id, on: s.f.connection).expectedCertificateId == successorId)
        #expect(try s.certificate(deployed.id).status == "VALID", "not revoked while the endpoint does not serve the successor")
        try s.advance(until: { try s.incident(run.incident.id).state == "FAILED" }, "the incident to finish with a failure")
        #expect(try s.f.count("alerts", where: "cause_key = 'incident:\(run.incident.id)' AND resolved_at IS NULL") == 1)
        #expect(try s.f.count("events", where: "event_type = 'INCIDENT_FINISHED' AND payload->>'outcome' = 'FAILURE'") == 1)

        // Someone installs the successor on lb-1 and validates again (certbus endpoint validate).
        let key = try #require(try CertificateExport.export(id: successorId.uuidString, withKey: true, keyEncryptionKey: s.f.kek,
                                                            actor: s.f.actor, on: s.f.connection).privateKeyPEM)
        let newServer = try ValidationTLSServer(certificate: try Certificate(pem: try #require(try s.certificate(successorId).certificatePEM)),
                                                key: try PrivateKey(pem: key), chain: chain)
        try s.f.connection.execute("UPDATE certbus.endpoints SET port = $2 WHERE id = $1", [endpoint.id, newServer.port])
        _ = try DeploymentValidation.enqueue(endpointId: endpoint.id, actor: s.f.actor, on: s.f.connection)
        try s.advance(until: { try s.incident(run.incident.id).state == "COMPLETED" }, "the incident to complete")
        let revoked = try s.certificate(deployed.id)
        #expect(revoked.status == "REVOKED")
        let validatedAt: Date = try s.f.connection.query(
            "SELECT max(checked_at) AS t FROM certbus.deployment_validations WHERE endpoint_id = $1 AND outcome = 'VALIDATED'",
            [endpoint.id])[0].decode("t")
        #expect(try #require(revoked.revokedAt) >= validatedAt, "revoked only after the successor was validated on lb-1")
        #expect(try s.f.count("alerts", where: "cause_key = 'incident:\(run.incident.id)' AND resolved_at IS NULL") == 0)
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_DEPLOYMENT_VALIDATED'") == 1)
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_REVOCATION_QUEUED'") == 2)
        _ = oldServer
    }

    @Test func aFailedRenewalIsReportedFailedAndARerunRetriesIt() throws {
        let s = try Setup()
        let good = try s.issue(["good.example.test"])
        let bad = try s.issue(["bad.example.test"])
        // The profile no longer allows bad.example.test: its renewal fails for good.
        try s.f.connection.execute("UPDATE certbus.ra_profiles SET allowed_domains = ARRAY['good.example.test']")
        let run = try s.open(CertificateSelector(profile: "web"))
        try s.startWorker()
        try s.advance(until: { try s.incident(run.incident.id).state != "ACTIVE" }, "the incident to finish")
        #expect(try s.incident(run.incident.id).state == "FAILED")
        let failed = try s.item(run.incident.id, bad.id)
        #expect(failed.state == .failed)
        #expect(failed.failedStep == "RENEWAL")
        #expect(failed.error?.contains("outside the domains of profile web") == true, "\(failed.error ?? "")")
        #expect(try s.item(run.incident.id, good.id).state == .done)
        #expect(try Incidents.items(of: run.incident.id, outcomes: ["failed"], on: s.f.connection).map(\.certificateId) == [bad.id])
        #expect(try s.f.count("alerts", where: "cause_key = 'incident:\(run.incident.id)' AND entity_type = 'INCIDENT' AND resolved_at IS NULL") == 1)
        #expect(try s.f.count("audit_log", where: "action = 'INCIDENT_CERTIFICATE_FAILED' AND details->>'step' = 'RENEWAL'") == 1)

        // Fixed; the same command again retries it.
        try s.f.connection.execute("UPDATE certbus.ra_profiles SET allowed_domains = ARRAY['*.example.test']")
        let again = try s.open(CertificateSelector(profile: "web"))
        #expect(again.incident.id == run.incident.id)
        #expect(again.retried == 1 && again.added == 0)
        #expect(again.incident.state == "ACTIVE")
        try s.advance(until: { try s.incident(run.incident.id).state == "COMPLETED" }, "the retried renewal")
        #expect(try s.item(run.incident.id, bad.id).successorId != nil)
        #expect(try s.f.count("alerts", where: "cause_key = 'incident:\(run.incident.id)' AND resolved_at IS NULL") == 0)
    }

    @Test func anAgentEndpointGetsANewKeyFromItsAgentBeforeTheOldCertificateIsRevoked() throws {
        let s = try Setup()
        let old = try s.issue(["127.0.0.1"])
        _ = try AgentStore.register(name: "edge", actor: s.f.actor, on: s.f.connection)
        let endpoint = try EndpointStore.add(
            EndpointDraft(name: "web-1", kind: .agent, host: "127.0.0.1", port: 443, expectedCertificate: old.id.uuidString, agentName: "edge"),
            actor: s.f.actor, on: s.f.connection)
        let run = try s.open(CertificateSelector(endpoint: "web-1"), revokeOld: true, reason: "keyCompromise")
        #expect(run.plan.items.map(\.plan) == [.agentInstall])
        #expect(try s.f.count("jobs", where: "kind = 'RENEW_CERT'") == 0, "the agent makes the key: no server-side renewal")
        let install = try s.f.connection.query(
            "SELECT id, queue, priority, payload->>'profile' AS profile FROM certbus.jobs WHERE kind = 'INSTALL_CERT'")
        #expect(install.count == 1)
        #expect(try install[0].decode("profile", as: String.self) == "web")
        #expect(try install[0].decode("priority", as: Int.self) < 100)
        #expect(try s.item(run.incident.id, old.id).deployments.map(\.state) == ["INSTALLING"])

        // The worker issues what the agent asks for; the agent installs it.
        try s.startWorker(kinds: [.issueCertificate, .renewCertificate, .revokeCertificate])
        let scratch = try ScratchFolder()
        let runner = AgentInstallTests.runner("edge", directory: scratch.path("agent"), database: s.f.db.configuration(), issuanceWait: 30)
        #expect(try runner.run(once: true).map(\.outcome) == [.installed])
        // Serve the agent's files and let the validation run.
        let files = CertificateFiles(directory: scratch.path("agent/web-1"))
        let installed = try Certificate(pem: String(contentsOfFile: files.certificate, encoding: .utf8))
        let server = try ValidationTLSServer(
            certificate: installed, key: try PrivateKey(pem: String(contentsOfFile: files.key, encoding: .utf8)),
            chain: try Certificate.parseChain(pem: String(contentsOfFile: files.chain, encoding: .utf8)))
        try s.f.connection.execute("UPDATE certbus.endpoints SET port = $2 WHERE id = $1", [endpoint.id, server.port])
        #expect(try TestWorker.runNext(ValidateDeploymentHandler(probeTimeout: 3), pool: s.f.pool) != nil)

        try s.advance(until: { try s.incident(run.incident.id).state != "ACTIVE" }, "the incident to finish")
        #expect(try s.incident(run.incident.id).state == "COMPLETED")
        let item = try s.item(run.incident.id, old.id)
        let successor = try s.certificate(try #require(item.successorId))
        #expect(successor.fingerprint == installed.sha256Fingerprint)
        #expect(!successor.hasServerKey, "the new key never left the agent")
        #expect(try s.publicKey(successor.id) != s.publicKey(old.id))
        #expect(item.deployments.map(\.state) == ["VALIDATED"])
        #expect(try s.certificate(old.id).status == "REVOKED")
        #expect(try EndpointStore.find(id: endpoint.id, on: s.f.connection).expectedCertificateId == successor.id)
    }

    @Test func certificatesRenewedBeforeTheIncidentTakeTheirLineReplacement() throws {
        let s = try Setup()
        // first -> renewed (same key): both carry the exposed key; renewed is the end of the line.
        let first = try s.issue(["line.example.test"])
        let renewed = try #require(try s.f.process(s.f.renew, payload: RenewCertificatePayload(certificateId: first.id)).1.get().issuedCertificateId)
        // moved -> rekeyed (new key) before the incident: only deployment and revocation remain for moved.
        let moved = try s.issue(["moved.example.test"], profile: "web")
        let rekeyed = try #require(try s.f.process(s.f.renew, payload: RenewCertificatePayload(certificateId: moved.id, rekey: true)).1.get().issuedCertificateId)
        let plan = try IncidentPlanner.plan(IncidentRequest(selector: CertificateSelector(sharingKeyOf: first.id.uuidString),
                                                            deadline: Date().addingTimeInterval(3600)), on: s.f.connection)
        #expect(Dictionary(uniqueKeysWithValues: plan.items.map { ($0.certificateId, $0.plan) }) == [first.id: .awaitRenewal, renewed: .renew])
        #expect(plan.items.first { $0.certificateId == first.id }?.awaits == renewed)
        let movedPlan = try IncidentPlanner.plan(IncidentRequest(selector: CertificateSelector(sharingKeyOf: moved.id.uuidString),
                                                                 deadline: Date().addingTimeInterval(3600)), on: s.f.connection)
        #expect(movedPlan.items.map(\.plan) == [.replaced])
        #expect(movedPlan.items.first?.replacedBy == rekeyed)

        let run = try s.open(CertificateSelector(sharingKeyOf: first.id.uuidString), revokeOld: true, reason: "superseded")
        #expect(try s.f.count("jobs", where: "kind = 'RENEW_CERT' AND status = 'QUEUED'") == 1, "one renewal for the line")
        try s.startWorker()
        try s.advance(until: { try s.incident(run.incident.id).state != "ACTIVE" }, "the incident to finish")
        #expect(try s.incident(run.incident.id).state == "COMPLETED")
        let replacement = try #require(try s.item(run.incident.id, renewed).successorId)
        #expect(try s.item(run.incident.id, first.id).successorId == replacement)
        #expect(try s.certificate(first.id).status == "REVOKED")
        #expect(try s.certificate(renewed).status == "REVOKED")
        #expect(try s.publicKey(replacement) != s.publicKey(first.id))
    }

    @Test func badInputsAreRefusedAndChangeNothing() throws {
        let s = try Setup()
        let a = try s.issue(["a.example.test"])
        _ = try CertificateInventory.record(try ValidationPKI().leaf(["seen.example.org"]).certificate, chain: [], on: s.f.connection)
        let before = try s.snapshot()
        func refused(_ request: IncidentRequest, _ message: String) {
            do {
                _ = try Incidents.open(request, actor: s.f.actor, on: s.f.connection)
                Issue.record("accepted, expected: \(message)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
            }
        }
        let soon = Date().addingTimeInterval(3600)
        refused(IncidentRequest(selector: CertificateSelector(issuedBy: "nope"), deadline: soon), "unknown CA \"nope\"")
        refused(IncidentRequest(selector: CertificateSelector(sharingKeyOf: UUID().uuidString), deadline: soon), "unknown certificate")
        refused(IncidentRequest(selector: CertificateSelector(endpoint: "nope"), deadline: soon), "unknown endpoint \"nope\"")
        refused(IncidentRequest(selector: CertificateSelector(), deadline: soon), "give at least one of")
        refused(IncidentRequest(selector: CertificateSelector(profile: "web"), deadline: Date().addingTimeInterval(-60)), "is not in the future")
        refused(IncidentRequest(selector: CertificateSelector(profile: "web"), deadline: soon, revokeOld: true, revocationReason: "cACompromise"),
                "cACompromise")
        refused(IncidentRequest(selector: CertificateSelector(profile: "web"), deadline: soon, revokeOld: true), "--revoke-old needs --reason")
        refused(IncidentRequest(selector: CertificateSelector(profile: "web"), deadline: soon, revocationReason: "keyCompromise"),
                "give both or neither")
        refused(IncidentRequest(selector: CertificateSelector(profile: "web"), deadline: soon, spread: 7200), "leaves less than half")
        refused(IncidentRequest(selector: CertificateSelector(sanPattern: try CertificateNamePattern("*.nothing.test")), deadline: soon),
                "no valid certificate matches san-matches=*.nothing.test")
        #expect(try s.snapshot() == before)
        // A certificate without a profile cannot be renewed: it fails at once, with the reason.
        let run = try s.open(CertificateSelector(sanPattern: try CertificateNamePattern("seen.example.org")))
        #expect(run.incident.state == "FAILED")
        let item = try #require(try Incidents.items(of: run.incident.id, on: s.f.connection).first)
        #expect(item.plan == .notRenewable)
        #expect(item.error?.contains("no RA profile") == true)
        #expect(try IncidentAdvanceTask().run(s.f.connection) == "nothing to do")
        _ = a
    }
}
