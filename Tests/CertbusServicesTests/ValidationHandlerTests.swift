import CertbusBus
import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

/// VALIDATE_DEPLOYMENT against `openssl s_server` on 127.0.0.1 serving certificates made by the PKI
/// module: matching, mismatching, expired, unreachable; with statuses, history, audit and alerts.
@Suite struct ValidationHandlerTests {
    /// What running a handler attempt produced, after its commit (success or failure) ran.
    enum Attempt {
        case success(JobCompletion)
        case failure(JobFailure)

        var failure: JobFailure? { if case .failure(let f) = self { f } else { nil } }
    }

    /// Runs one attempt and commits its effects the way a worker does.
    static func attempt(_ handler: some JobHandler, _ job: Job, pool: ConnectionPool) throws -> Attempt {
        let context = JobContext(database: pool, workerId: "test-worker")
        do {
            let completion = try handler.run(job, context: context)
            try pool.withTransaction { c in try completion.commit?(c) }
            return .success(completion)
        } catch let failure as JobFailure {
            try pool.withTransaction { c in try failure.commit?(c) }
            return .failure(failure)
        }
    }

    static func job(endpoint: UUID, attempt: Int = 1, maxAttempts: Int = 3, timeout: Double = 5) throws -> Job {
        let payload = try JSONEncoder().encode(ValidateDeploymentHandler.Payload(endpointId: endpoint, timeoutSeconds: timeout))
        return Job(
            id: 77, kind: .validateDeployment, name: "Validate", payload: payload, attempt: attempt, maxAttempts: maxAttempts,
            triggeredBy: .user("tester"))
    }

    /// A database with our CA, an expected certificate for localhost, and an endpoint at `port`
    /// in "Installation completed".
    struct Setup {
        let db: TestDatabase
        let pool: ConnectionPool
        let c: Connection
        let pki: ValidationPKI
        let expected: (key: PrivateKey, certificate: Certificate)
        let endpoint: Endpoint

        init(port: Int, kind: EndpointAutomationKind = .agent, expected: (key: PrivateKey, certificate: Certificate)? = nil,
             pki: ValidationPKI? = nil) throws {
            db = try TestDatabase.create()
            pool = db.pool()
            c = try db.connect()
            let pki = try pki ?? ValidationPKI()
            self.pki = pki
            let caId = try pki.insertCA(on: c)
            let expected = try expected ?? pki.leaf(["localhost", "127.0.0.1"])
            self.expected = expected
            let certificateId = try CertificateInventory.record(
                expected.certificate, chain: [pki.intermediate.certificate], source: "ISSUED", caId: caId, on: c).id
            var endpoint = try EndpointStore.add(
                EndpointDraft(
                    name: "web", kind: kind, host: "127.0.0.1", port: port, serverName: "localhost",
                    expectedCertificate: certificateId.uuidString, agentName: kind == .agent ? "edge" : nil),
                actor: .user("tester"), on: c)
            let path: [AutomationStatus] = kind == .adminWebRequest
                ? [] : [.automationRequested, .readyToBeInstalled, .installingCertificate, .installationCompleted]
            try EndpointStore.changeStatus(endpoint.id, through: path, actor: .user("tester"), on: c)
            endpoint = try EndpointStore.find(id: endpoint.id, on: c)
            self.endpoint = endpoint
        }

        func close() {
            c.close()
            pool.close()
            db.drop()
        }

        var status: AutomationStatus { (try? EndpointStore.find(id: endpoint.id, on: c).automationStatus) ?? .notConfigured }

        func audit() throws -> [String] {
            try c.query("SELECT action FROM certbus.audit_log WHERE action LIKE 'DEPLOYMENT%' ORDER BY id").map { try $0.decode("action") }
        }

        func openAlerts() throws -> [String] {
            try c.query(
                "SELECT title FROM certbus.alerts WHERE cause_key = $1 AND resolved_at IS NULL",
                ["deployment:\(endpoint.id.uuidString.lowercased())"]
            ).map { try $0.decode("title") }
        }

        func validations() throws -> [String] {
            try c.query("SELECT outcome FROM certbus.deployment_validations WHERE endpoint_id = $1 ORDER BY id", [endpoint.id])
                .map { try $0.decode("outcome") }
        }
    }

    @Test func matchingDeploymentIsValidated() throws {
        let pki = try ValidationPKI()
        let leaf = try pki.leaf(["localhost", "127.0.0.1"])
        let server = try ValidationTLSServer(certificate: leaf.certificate, key: leaf.key, chain: pki.servedChain)
        let setup = try Setup(port: server.port, expected: leaf, pki: pki)
        defer { setup.close() }
        let result = try Self.attempt(ValidateDeploymentHandler(), Self.job(endpoint: setup.endpoint.id), pool: setup.pool)
        guard case .success(let completion) = result else {
            Issue.record("expected success, got \(String(describing: result.failure))")
            return
        }
        #expect(completion.output?.contains("\"outcome\":\"VALIDATED\"") == true)
        #expect(setup.status == .automationSuccessful)
        let history = try EndpointStore.history(of: setup.endpoint.id, on: setup.c).suffix(3)
        #expect(history.map(\.to) == [.installValidationInProgress, .installationValidated, .automationSuccessful])
        #expect(history.allSatisfy { $0.jobId == 77 && $0.actor == .system("deployment-validator") })
        #expect(try setup.audit() == ["DEPLOYMENT_VALIDATED"])
        #expect(try setup.validations() == ["VALIDATED"])
        let row = try setup.c.query(
            "SELECT served_fingerprint, protocol, chain_checked FROM certbus.deployment_validations WHERE endpoint_id = $1",
            [setup.endpoint.id])[0]
        #expect(try row.decode("served_fingerprint", as: String.self) == leaf.certificate.sha256Fingerprint)
        #expect(try row.decode("chain_checked", as: Bool.self))
        #expect(try setup.openAlerts().isEmpty)
    }

    @Test func anotherCertificateFailsValidationAndRaisesAnAlert() throws {
        let pki = try ValidationPKI()
        let served = try pki.leaf(["localhost", "127.0.0.1"])
        let server = try ValidationTLSServer(certificate: served.certificate, key: served.key, chain: pki.servedChain)
        let setup = try Setup(port: server.port, pki: pki)
        defer { setup.close() }
        let failure = try #require(try Self.attempt(ValidateDeploymentHandler(), Self.job(endpoint: setup.endpoint.id), pool: setup.pool).failure)
        #expect(failure.isPermanent)
        #expect(failure.message.contains("instead of the expected"))
        #expect(setup.status == .installValidationFailed)
        #expect(try EndpointStore.history(of: setup.endpoint.id, on: setup.c).suffix(2).map(\.to)
            == [.installValidationInProgress, .installValidationFailed])
        #expect(try setup.audit() == ["DEPLOYMENT_FAILED"])
        #expect(try setup.openAlerts() == ["Deployment validation failed on web"])
        let problems: String = try setup.c.query(
            "SELECT problems::text AS p FROM certbus.deployment_validations WHERE endpoint_id = $1", [setup.endpoint.id])[0].decode("p")
        #expect(problems.contains("FINGERPRINT_MISMATCH"))

        // Validating again while the server still serves the wrong certificate: no second alert, status stays.
        _ = try Self.attempt(ValidateDeploymentHandler(), Self.job(endpoint: setup.endpoint.id), pool: setup.pool)
        #expect(try setup.openAlerts().count == 1)
        #expect(setup.status == .installValidationFailed)

        // The operator fixes the server and resets the endpoint; an ad-hoc validation passes and resolves the alert.
        let fixed = try ValidationTLSServer(certificate: setup.expected.certificate, key: setup.expected.key, chain: pki.servedChain)
        try setup.c.execute("UPDATE certbus.endpoints SET port = $2 WHERE id = $1", [setup.endpoint.id, fixed.port])
        try EndpointStore.changeStatus(setup.endpoint.id, to: .configured, actor: .user("tester"), on: setup.c)
        guard case .success = try Self.attempt(ValidateDeploymentHandler(), Self.job(endpoint: setup.endpoint.id), pool: setup.pool) else {
            Issue.record("the fixed deployment should validate")
            return
        }
        #expect(try setup.openAlerts().isEmpty)
        #expect(setup.status == .configured, "an ad-hoc validation moves no status")
        #expect(try setup.validations() == ["FAILED", "FAILED", "VALIDATED"])
    }

    @Test func expiredCertificateFailsValidation() throws {
        let pki = try ValidationPKI()
        let expired = try pki.leaf(["localhost", "127.0.0.1"], issuedAt: Date().addingTimeInterval(-40 * 86400), days: 30)
        let server = try ValidationTLSServer(certificate: expired.certificate, key: expired.key, chain: pki.servedChain)
        let setup = try Setup(port: server.port, expected: expired, pki: pki)
        defer { setup.close() }
        let failure = try #require(try Self.attempt(ValidateDeploymentHandler(), Self.job(endpoint: setup.endpoint.id), pool: setup.pool).failure)
        #expect(failure.isPermanent)
        #expect(failure.message.contains("expired"))
        #expect(setup.status == .installValidationFailed)
        let problems: String = try setup.c.query(
            "SELECT problems::text AS p FROM certbus.deployment_validations WHERE endpoint_id = $1", [setup.endpoint.id])[0].decode("p")
        #expect(problems.contains("EXPIRED") && !problems.contains("FINGERPRINT_MISMATCH"))
    }

    @Test func unreachableSensorRetriesThenBecomesIPUnreachable() throws {
        let refusing = try LoopbackPort.refusing()
        defer { refusing.release() }
        let port = refusing.port
        let setup = try Setup(port: port, kind: .sensor)
        defer { setup.close() }
        // Not the last attempt: retry later, nothing recorded.
        let first = try #require(try Self.attempt(
            ValidateDeploymentHandler(), Self.job(endpoint: setup.endpoint.id, attempt: 1, maxAttempts: 3), pool: setup.pool).failure)
        #expect(!first.isPermanent)
        #expect(first.commit == nil)
        #expect(first.message.contains("connection refused"))
        #expect(setup.status == .installationCompleted)
        #expect(try setup.validations().isEmpty)
        // The last attempt records it.
        let last = try #require(try Self.attempt(
            ValidateDeploymentHandler(), Self.job(endpoint: setup.endpoint.id, attempt: 3, maxAttempts: 3), pool: setup.pool).failure)
        #expect(last.isPermanent)
        #expect(setup.status == .ipUnreachable)
        #expect(try setup.validations() == ["UNREACHABLE"])
        #expect(try setup.audit() == ["DEPLOYMENT_FAILED"])
        #expect(try setup.openAlerts() == ["Endpoint web unreachable for deployment validation"])
    }

    @Test func badPayloadsFailPermanentlyAndWriteNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let pool = db.pool()
        defer { pool.close() }
        let handler = ValidateDeploymentHandler()
        let payloads = [
            #"{"endpoint_id": "not-a-uuid"}"#, #"{}"#,
            #"{"endpoint_id": "\#(UUID().uuidString)"}"#,
            #"{"endpoint_id": "\#(UUID().uuidString)", "timeout_seconds": 600}"#,
        ]
        for payload in payloads {
            let job = Job(
                id: 1, kind: .validateDeployment, name: "v", payload: Data(payload.utf8), attempt: 1, maxAttempts: 3,
                triggeredBy: .user("t"))
            let failure = try #require(try Self.attempt(handler, job, pool: pool).failure, "\(payload)")
            #expect(failure.isPermanent, "\(payload)")
            #expect(failure.commit == nil)
        }
        let c = try db.connect()
        defer { c.close() }
        #expect(try c.query("SELECT count(*) AS n FROM certbus.deployment_validations")[0].decode("n", as: Int.self) == 0)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.audit_log")[0].decode("n", as: Int.self) == 0)
    }
}
