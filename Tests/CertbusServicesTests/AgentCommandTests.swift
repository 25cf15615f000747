import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

/// `certbus agent`, `certbus endpoint install` and `certbus endpoint validate --wait`, end to end:
/// the agent runs as its own database role; a test worker stands in for the CA and `certbus worker`.
@Suite struct AgentCommandTests {
    @Test func registerInstallWithTheAgentRoleAndValidate() throws {
        let role = try AgentRole()
        defer { role.drop() }
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let pool = db.pool()
        defer { pool.close() }
        let scratch = try ScratchFolder()
        let pki = try ValidationPKI()
        let caId = try pki.insertCA(on: c)

        let registered = try CertbusCommand.run(["agent", "register", "edge", "--login-role", role.name, "--json"], database: db)
        #expect(registered.status == 0, "\(registered.error)")
        #expect((try registered.json() as? [String: Any])?["login_role"] as? String == role.name)
        let added = try CertbusCommand.run(
            ["endpoint", "add", "web", "--kind", "agent", "--host", "127.0.0.1", "--port", "1", "--server-name", "localhost", "--agent", "edge"],
            database: db)
        #expect(added.status == 0, "\(added.error)")
        let install = try CertbusCommand.run(["endpoint", "install", "web", "--profile", "web", "--san", "localhost", "--san", "127.0.0.1"], database: db)
        #expect(install.status == 0, "\(install.error)")
        #expect(install.output.hasPrefix("queued INSTALL_CERT job "))

        // The agent, logged in as its own role: generates the key, submits the CSR, gives the job back while waiting.
        let asAgent = db.connectionString + " user=\(role.name)"
        let agentArguments = ["agent", "--name", "edge", "--directory", scratch.path("agent"), "--issuance-wait", "1s", "--once",
                              "--post-install", "touch \"$CERTBUS_CERT_FILE.reloaded\""]
        let first = try CertbusCommand.run(agentArguments, databaseURL: asAgent)
        #expect(first.status == 0, "\(first.error)")
        #expect(first.output.contains("WAIT -> QUEUED"), "\(first.output)")

        // The CA signs (as the ISSUE_CERT worker would); the agent installs on its next round.
        let issue = try c.query("SELECT id, payload->>'csr' AS csr FROM certbus.jobs WHERE kind = 'ISSUE_CERT'")[0]
        let issued = try pki.intermediate.issue(
            for: try CertificateSigningRequest(pem: try issue.decode("csr")), profile: .tlsServer(validityDays: 30))
        let issuedId = try CertificateInventory.record(issued, chain: [pki.intermediate.certificate], source: "ISSUED", caId: caId, on: c).id
        try c.execute(
            "UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now(), issued_certificate_id = $2 WHERE id = $1",
            [try issue.decode("id", as: Int64.self), issuedId])
        try c.execute("UPDATE certbus.jobs SET run_at = now() WHERE kind = 'INSTALL_CERT'")
        let second = try CertbusCommand.run(agentArguments, databaseURL: asAgent)
        #expect(second.status == 0, "\(second.error)")
        #expect(second.output.contains("INSTALLED -> SUCCESS"), "\(second.output)")
        let files = CertificateFiles(directory: scratch.path("agent/web"))
        #expect(FileManager.default.fileExists(atPath: files.certificate + ".reloaded"))

        // The web server serves the installed files; `endpoint validate --wait` waits for the worker.
        let key = try PrivateKey(pem: String(contentsOfFile: files.key, encoding: .utf8))
        let server = try ValidationTLSServer(certificate: issued, key: key, chain: pki.servedChain)
        try c.execute("UPDATE certbus.endpoints SET port = $1", [server.port])
        // The validation the agent asked for runs first...
        #expect(try TestWorker.runNext(ValidateDeploymentHandler(), pool: pool) != nil)
        #expect(try EndpointStore.find("web", on: c).automationStatus == .automationSuccessful)
        // ...then an operator's check waits for the worker.
        let validating = try CertbusCommand(["endpoint", "validate", "web", "--wait", "--timeout", "30s"], database: db)
        #expect(try TestWorker.runNext(ValidateDeploymentHandler(), pool: pool) != nil)
        let validated = validating.finish()
        #expect(validated.status == 0, "\(validated.error)")
        #expect(validated.output.contains("web: validation passed"))
        #expect(validated.output.contains("automation status: Automation successful"))

        let agents = try CertbusCommand.run(["agent", "list", "--json"], database: db)
        let list = try #require(try agents.json() as? [[String: Any]])
        #expect(list.first?["status"] as? String == "ONLINE")
    }

    @Test func badAgentAndInstallInputIsRefused() throws {
        let role = try AgentRole()
        defer { role.drop() }
        let db = try TestDatabase.create()
        defer { db.drop() }
        _ = try CertbusCommand.run(["endpoint", "add", "web", "--kind", "agent", "--host", "web.test", "--agent", "edge"], database: db)
        _ = try CertbusCommand.run(["endpoint", "add", "lb", "--kind", "sensor", "--host", "lb.test"], database: db)
        let cases: [([String], Int32, String)] = [
            (["agent", "--once"], 2, "--name is required"),
            (["agent", "register", "x", "--login-role", "no_such_role_here"], 1, "no PostgreSQL role no_such_role_here"),
            (["agent", "register", "bad name"], 1, "agent name \"bad name\""),
            (["agent", "--name", "edge", "--endpoint", "lb", "--once"], 1, "endpoint lb is not bound to agent edge"),
            (["endpoint", "install", "web"], 2, "give either --certificate or --profile"),
            (["endpoint", "install", "web", "--profile", "p", "--certificate", "x"], 2, "give either"),
            (["endpoint", "install", "web", "--profile", "p", "--san", "bad name!"], 2, "is not a host name"),
            (["endpoint", "install", "lb", "--profile", "p"], 1, "endpoint lb has no agent"),
            (["endpoint", "install", "web", "--certificate", String(repeating: "ab", count: 32)], 1, "no certificate with fingerprint"),
            (["endpoint", "validate", "nope"], 1, "no endpoint named \"nope\""),
        ]
        for (arguments, status, text) in cases {
            let result = try CertbusCommand.run(arguments, database: db)
            #expect(result.status == status, "\(arguments): \(result.error)")
            #expect(result.error.contains(text), "\(arguments): \(result.error)")
        }
        // A role that is not edge's may not run as edge.
        let stranger = try CertbusCommand.run(["agent", "--name", "edge", "--once"], databaseURL: db.connectionString + " user=\(role.name)")
        #expect(stranger.status == 1)
        #expect(stranger.error.contains("may not act for agent edge"))
        let c = try db.connect()
        defer { c.close() }
        #expect(try AgentTestSupport.count(c, "SELECT count(*) AS n FROM certbus.jobs") == 0)
        #expect(try EndpointStore.find("web", on: c).automationStatus == .configured)
        #expect(try AgentStore.find("edge", on: c).status == .neverSeen)
    }
}
