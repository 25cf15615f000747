import CertbusBus
import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

/// `certbus agent` installing certificates: an issued one whose key it holds, and the CSR path
/// (key generated on the agent, under the agent's own restricted role); files, statuses, jobs,
/// audit, the post-install command, and the deployment validation that follows.
@Suite struct AgentInstallTests {
    /// Leaves an EC key in `scratch/agent/web/key.pem`, as an earlier install of endpoint `web`
    /// would have, and returns it with a 30-day localhost certificate for it issued by `pki`.
    static func certificateForKeyOnDisk(
        _ scratch: ScratchFolder, pki: ValidationPKI, names: [SubjectAlternativeName]
    ) throws -> (key: PrivateKey, certificate: Certificate) {
        let key = try PrivateKey.generate(.ecdsaP256)
        try FileManager.default.createDirectory(atPath: scratch.path("agent/web"), withIntermediateDirectories: true)
        try scratch.write(try key.pkcs8PEM(), to: "agent/web/key.pem")
        let certificate = try pki.intermediate.issue(
            publicKey: key.publicKey, subject: DistinguishedName(commonName: "localhost"), subjectAlternativeNames: names,
            profile: .tlsServer(validityDays: 30))
        return (key, certificate)
    }

    static func runner(
        _ name: String, directory: String, database: ConnectionConfiguration, postInstall: PostInstallCommand? = nil,
        issuanceWait: Double = 5
    ) -> AgentRunner {
        AgentRunner(
            configuration: .init(
                name: name,
                handler: InstallCertificateHandler(
                    directory: directory, postInstall: postInstall, issuanceWait: issuanceWait, pollInterval: 0.1),
                hostname: "agent-host", version: "test"),
            database: database)
    }

    static func statuses(_ endpoint: UUID, on c: Connection) throws -> [AutomationStatus] {
        try EndpointStore.history(of: endpoint, on: c).map(\.to)
    }

    static func audit(_ c: Connection) throws -> [String] {
        try c.query("SELECT action FROM certbus.audit_log WHERE action LIKE 'DEPLOYMENT%' OR action = 'CSR_SUBMITTED' ORDER BY id")
            .map { try $0.decode("action") }
    }

    @Test func installsAnIssuedCertificateThenValidationPasses() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let scratch = try ScratchFolder()
        let pki = try ValidationPKI()
        let caId = try pki.insertCA(on: c)
        let (agent, endpoint) = try AgentTestSupport.agentWithEndpoint("edge", endpoint: "web", port: 1, on: c)
        // The agent holds the key from an earlier install.
        let (_, certificate) = try Self.certificateForKeyOnDisk(
            scratch, pki: pki, names: [.dnsName("localhost"), .ipAddress(IPAddress("127.0.0.1")!)])
        let certificateId = try CertificateInventory.record(
            certificate, chain: [pki.intermediate.certificate], source: "ISSUED", caId: caId, on: c).id
        let installJob = try AgentTestSupport.requestInstall(endpoint.id, certificate: certificateId, on: c)
        #expect(try EndpointStore.find(id: endpoint.id, on: c).automationStatus == .readyToBeInstalled)

        let results = try Self.runner(
            "edge", directory: scratch.path("agent"), database: db.configuration(),
            postInstall: PostInstallCommand(command: "echo reloaded > \"$CERTBUS_CERT_FILE.reloaded\"", timeout: 10)
        ).run(once: true)
        #expect(results.map(\.outcome) == [.installed])
        #expect(results.first?.jobStatus == "SUCCESS")

        let files = CertificateFiles(directory: scratch.path("agent/web"))
        #expect(try String(contentsOfFile: files.certificate, encoding: .utf8) == certificate.pem)
        #expect(try String(contentsOfFile: files.fullChain, encoding: .utf8) == certificate.pem + pki.intermediate.certificate.pem)
        #expect((try FileManager.default.attributesOfItem(atPath: files.key)[.posixPermissions] as? Int) == 0o600)
        #expect(try String(contentsOfFile: files.certificate + ".reloaded", encoding: .utf8) == "reloaded\n")
        #expect(try Self.statuses(endpoint.id, on: c).suffix(4)
            == [.readyToBeInstalled, .installingCertificate, .installationCompleted, .installValidationInProgress])
        #expect(try EndpointStore.find(id: endpoint.id, on: c).expectedCertificateId == certificateId)
        #expect(try AgentTestSupport.jobStatus(installJob, on: c).status == "SUCCESS")
        #expect(try Self.audit(c) == ["DEPLOYMENT_STARTED", "DEPLOYMENT_COMPLETED"])
        #expect(try AgentStore.find("edge", on: c).status == .online)

        // The VALIDATE_DEPLOYMENT job it enqueued passes once the server serves the installed files.
        let validation = try c.query(
            "SELECT id, payload::text AS payload, triggered_by_type FROM certbus.jobs WHERE kind = 'VALIDATE_DEPLOYMENT' AND status = 'QUEUED'")
        #expect(validation.count == 1)
        #expect(try validation[0].decode("triggered_by_type", as: String.self) == "AGENT")
        let server = try ValidationTLSServer(certificate: certificate, key: try PrivateKey(pem: String(contentsOfFile: files.key, encoding: .utf8)),
                                             chain: pki.servedChain)
        try c.execute("UPDATE certbus.endpoints SET port = $2 WHERE id = $1", [endpoint.id, server.port])
        let job = Job(
            id: try validation[0].decode("id"), kind: .validateDeployment, name: "v",
            payload: Data(try validation[0].decode("payload", as: String.self).utf8), attempt: 1, maxAttempts: 3,
            triggeredBy: .agent(agent.id.uuidString.lowercased()))
        guard case .success = try ValidationHandlerTests.attempt(ValidateDeploymentHandler(), job, pool: db.pool()) else {
            Issue.record("validation of the installed certificate failed")
            return
        }
        #expect(try Self.statuses(endpoint.id, on: c).suffix(2) == [.installationValidated, .automationSuccessful])
    }

    @Test func failingPostInstallCommandIsAScriptErrorAndMissingKeyAnAgentError() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let scratch = try ScratchFolder()
        let pki = try ValidationPKI()
        let (_, withKey) = try AgentTestSupport.agentWithEndpoint("edge", endpoint: "web", on: c)
        let (key, certificate) = try Self.certificateForKeyOnDisk(scratch, pki: pki, names: [.dnsName("localhost")])
        let id = try CertificateInventory.record(certificate, chain: [], source: "IMPORTED", on: c).id
        let job = try AgentTestSupport.requestInstall(withKey.id, certificate: id, on: c)
        let results = try Self.runner(
            "edge", directory: scratch.path("agent"), database: db.configuration(),
            postInstall: PostInstallCommand(command: "echo 'nginx: [emerg] bad config' >&2; exit 3", timeout: 10)
        ).run(once: true)
        #expect(results.map(\.outcome) == [.scriptError])
        #expect(results[0].message.contains("exited with status 3: nginx: [emerg] bad config"))
        #expect(try EndpointStore.find(id: withKey.id, on: c).automationStatus == .scriptError)
        let status = try AgentTestSupport.jobStatus(job, on: c)
        #expect(status.status == "FAILED" && status.error?.contains("bad config") == true)
        #expect(try Self.audit(c) == ["DEPLOYMENT_STARTED", "DEPLOYMENT_FAILED"])

        // A certificate whose key the agent does not hold.
        let stranger = try pki.leaf(["localhost"])
        let strangerId = try CertificateInventory.record(stranger.certificate, chain: [], source: "IMPORTED", on: c).id
        try EndpointStore.changeStatus(withKey.id, to: .configured, actor: .user("admin"), on: c)
        let second = try AgentTestSupport.requestInstall(withKey.id, certificate: strangerId, on: c)
        let noKey = try Self.runner("edge", directory: scratch.path("agent"), database: db.configuration()).run(once: true)
        #expect(noKey.map(\.outcome) == [.agentError])
        #expect(noKey[0].message.contains("holds no private key"))
        #expect(try EndpointStore.find(id: withKey.id, on: c).automationStatus == .agentError)
        #expect(try AgentTestSupport.jobStatus(second, on: c).status == "FAILED")
        // The files of the first install were not touched.
        #expect(try String(contentsOfFile: scratch.path("agent/web/key.pem"), encoding: .utf8) == (try key.pkcs8PEM()))
    }

    /// The CSR path under the agent's own restricted role: the key is generated on the agent and never
    /// reaches the database; the job waits (without spending attempts) until the certificate is issued.
    @Test func csrPathKeepsTheKeyOnTheAgent() throws {
        let role = try AgentRole()
        defer { role.drop() }
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let scratch = try ScratchFolder()
        let pki = try ValidationPKI()
        let caId = try pki.insertCA(on: c)
        let (_, endpoint) = try AgentTestSupport.agentWithEndpoint("edge", endpoint: "web", role: role, on: c)
        let installJob = try AgentTestSupport.requestInstall(endpoint.id, profile: "web", names: ["localhost", "127.0.0.1"], on: c)
        let asAgent = ConnectionConfiguration(db.connectionString + " user=\(role.name)", applicationName: "certbus-agent")
        let runner = Self.runner("edge", directory: scratch.path("agent"), database: asAgent, issuanceWait: 0.3)

        // First round: key + CSR, submitted; nobody issues yet, so the job is given back.
        let first = try runner.run(once: true)
        #expect(first.map(\.outcome) == [.wait])
        #expect(first[0].jobStatus == "QUEUED")
        let afterWait = try AgentTestSupport.jobStatus(installJob, on: c)
        #expect(afterWait.status == "QUEUED" && afterWait.attempt == 0, "waiting spends no attempt")
        #expect(try EndpointStore.find(id: endpoint.id, on: c).automationStatus == .issuingCertificate)
        let pending = scratch.path("agent/web/pending/\(installJob).key")
        #expect((try FileManager.default.attributesOfItem(atPath: pending)[.posixPermissions] as? Int) == 0o600)
        let issueJob = try c.query(
            "SELECT id, payload->>'csr' AS csr, payload->>'profile' AS profile, payload->>'idempotencyKey' AS key, triggered_by_type FROM certbus.jobs WHERE kind = 'ISSUE_CERT'")
        #expect(issueJob.count == 1)
        #expect(try issueJob[0].decode("profile", as: String.self) == "web")
        #expect(try issueJob[0].decode("key", as: String.self) == "install:\(installJob)")
        #expect(try issueJob[0].decode("triggered_by_type", as: String.self) == "AGENT")
        // The private key is nowhere in the database.
        let leaked = try c.query(
            """
            SELECT (SELECT count(*) FROM certbus.jobs WHERE payload::text LIKE '%PRIVATE KEY%')
                 + (SELECT count(*) FROM certbus.audit_log WHERE details::text LIKE '%PRIVATE KEY%') AS n
            """)[0].decode("n", as: Int.self)
        #expect(leaked == 0)

        // The CA signs the CSR (what the ISSUE_CERT worker does), then the agent installs.
        let csr = try CertificateSigningRequest(pem: try issueJob[0].decode("csr"))
        let issued = try pki.intermediate.issue(for: csr, profile: .tlsServer(validityDays: 30))
        let issuedId = try CertificateInventory.record(issued, chain: [pki.intermediate.certificate], source: "ISSUED", caId: caId, on: c).id
        try c.execute(
            "UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now(), issued_certificate_id = $2 WHERE id = $1",
            [try issueJob[0].decode("id", as: Int64.self), issuedId])
        try c.execute("UPDATE certbus.jobs SET run_at = now() WHERE id = $1", [installJob])
        let second = try runner.run(once: true)
        #expect(second.map(\.outcome) == [.installed])
        #expect(second.first?.certificateId == issuedId)
        let installedKey = try PrivateKey(pem: String(contentsOfFile: scratch.path("agent/web/key.pem"), encoding: .utf8))
        #expect(issued.matches(installedKey))
        #expect(!FileManager.default.fileExists(atPath: pending))
        #expect(try Self.statuses(endpoint.id, on: c) == [
            .configured, .automationRequested, .issuingCertificate, .certificateIssued, .installingCertificate,
            .installationCompleted, .installValidationInProgress,
        ])
        #expect(try Self.audit(c) == ["CSR_SUBMITTED", "DEPLOYMENT_STARTED", "DEPLOYMENT_COMPLETED"])
        let finished = try AgentTestSupport.jobStatus(installJob, on: c)
        #expect(finished.status == "SUCCESS" && finished.attempt == 1)
    }

    @Test func failedIssuanceEndsTheInstall() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let scratch = try ScratchFolder()
        let (_, endpoint) = try AgentTestSupport.agentWithEndpoint("edge", endpoint: "web", on: c)
        let installJob = try AgentTestSupport.requestInstall(endpoint.id, profile: "web", on: c)
        let runner = Self.runner("edge", directory: scratch.path("agent"), database: db.configuration(), issuanceWait: 0.2)
        #expect(try runner.run(once: true).map(\.outcome) == [.wait])
        try c.execute(
            "UPDATE certbus.jobs SET status = 'FAILED', completed_at = now(), error = 'name localhost is outside the profile''s domains' WHERE kind = 'ISSUE_CERT'")
        try c.execute("UPDATE certbus.jobs SET run_at = now() WHERE id = $1", [installJob])
        let results = try runner.run(once: true)
        #expect(results.map(\.outcome) == [.issuanceFailed])
        #expect(results[0].message.contains("outside the profile"))
        #expect(try EndpointStore.find(id: endpoint.id, on: c).automationStatus == .issuanceFailed)
        #expect(try AgentTestSupport.jobStatus(installJob, on: c).status == "FAILED")
        #expect(!FileManager.default.fileExists(atPath: scratch.path("agent/web/pending/\(installJob).key")))
    }

    @Test func unknownEndpointOrRoleStopsTheAgentAtStart() throws {
        let role = try AgentRole()
        defer { role.drop() }
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let scratch = try ScratchFolder()
        _ = try AgentTestSupport.agentWithEndpoint("edge", endpoint: "web", on: c)
        var configuration = AgentRunner.Configuration(name: "edge", endpoints: ["nope"], handler: InstallCertificateHandler(directory: scratch.path("a")))
        let wrongEndpoint = #expect(throws: AgentRunner.StartError.self) {
            try AgentRunner(configuration: configuration, database: db.configuration()).run(once: true)
        }
        #expect(wrongEndpoint?.message == "endpoint nope is not bound to agent edge (its endpoints: web)")
        // A role that is not the agent's own may not run as it.
        configuration.endpoints = []
        let asStranger = ConnectionConfiguration(db.connectionString + " user=\(role.name)", applicationName: "x")
        let wrongRole = #expect(throws: AgentRunner.StartError.self) {
            try AgentRunner(configuration: configuration, database: asStranger).run(once: true)
        }
        #expect(wrongRole?.message.contains("may not act for agent edge") == true)
        // An agent role cannot register itself either.
        configuration.name = "newcomer"
        #expect(throws: AgentRunner.StartError.self) {
            try AgentRunner(configuration: configuration, database: asStranger).run(once: true)
        }
        #expect(try AgentTestSupport.count(c, "SELECT count(*) AS n FROM certbus.agents") == 1)
    }

    /// The long-running agent wakes up for a job queued after it started, and stops when asked.
    @Test func runningAgentPicksUpNewJobsAndStops() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let scratch = try ScratchFolder()
        let pki = try ValidationPKI()
        let (_, endpoint) = try AgentTestSupport.agentWithEndpoint("edge", endpoint: "web", on: c)
        let (_, certificate) = try Self.certificateForKeyOnDisk(scratch, pki: pki, names: [.dnsName("localhost")])
        let certificateId = try CertificateInventory.record(certificate, chain: [], source: "IMPORTED", on: c).id
        let runner = AgentRunner(
            configuration: .init(
                name: "edge", handler: InstallCertificateHandler(directory: scratch.path("agent")), heartbeatInterval: 1,
                pollInterval: 1),
            database: db.configuration())
        let done = DispatchSemaphore(value: 0)
        let outcome = LockedResults()
        Thread {
            outcome.set(Result { try runner.run() })
            done.signal()
        }.start()
        // Queued after the agent started (NOTIFY or the next poll wakes it).
        Thread.sleep(forTimeInterval: 0.3)
        let job = try AgentTestSupport.requestInstall(endpoint.id, certificate: certificateId, on: c)
        let deadline = Date().addingTimeInterval(60)
        while try AgentTestSupport.jobStatus(job, on: c).status != "SUCCESS" && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(try AgentTestSupport.jobStatus(job, on: c).status == "SUCCESS")
        runner.stop()
        #expect(done.wait(timeout: .now() + 30) == .success, "the agent stops when asked")
        #expect(try outcome.value?.get().map(\.outcome) == [.installed])
    }
}

/// The result of a background agent run.
final class LockedResults: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Result<[InstallResult], any Error>?
    func set(_ value: Result<[InstallResult], any Error>) { lock.withLock { stored = value } }
    var value: Result<[InstallResult], any Error>? { lock.withLock { stored } }
}
