import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The certbus_agent role: an agent logged in as its own role reaches only its own agent row,
/// endpoints and INSTALL_CERT jobs, through the certbus.agent_* functions; nothing else.
@Suite struct AgentPrivilegeTests {
    @Test func anAgentCannotActForAnotherAgent() throws {
        let two = try TwoAgents()
        defer { withExtendedLifetime(two) {} }
        let (db, admin, roleA, roleB) = (two.db, two.admin, two.roleA, two.roleB)
        let (agentA, agentB, endpointB, jobA, jobB) = (two.agentA, two.agentB, two.endpointB, two.jobA, two.jobB)

        let a = try roleA.connect(db)
        defer { a.close() }
        let clientA = AgentClient(agentId: agentA.id)
        let asIfB = AgentClient(agentId: agentB.id)

        // Its own business works.
        #expect(try AgentClient.lookup(name: "agent-a", on: a) == agentA.id)
        #expect(try clientA.heartbeat(hostname: "host-a", version: "1", on: a) == .neverSeen)
        #expect(try clientA.endpoints(on: a).map(\.name) == ["web-a"])

        // Another agent's does not, and nothing changes.
        func refused(_ what: String, _ body: () throws -> Void) {
            let error = #expect(throws: PostgresError.self, "\(what)") { try body() }
            #expect(error?.sqlState == "42501", "\(what): \(String(describing: error))")
        }
        refused("lookup of B") { _ = try AgentClient.lookup(name: "agent-b", on: a) }
        refused("heartbeat as B") { try asIfB.heartbeat(hostname: "evil", version: "x", on: a) }
        refused("B's endpoints") { _ = try asIfB.endpoints(on: a) }
        refused("claim B's jobs") { _ = try asIfB.claim(on: a) }
        refused("move B's endpoint") { try clientA.changeStatus(of: endpointB.id, to: .actionRequired, on: a) }
        refused("read jobs") { _ = try a.query("SELECT count(*) FROM certbus.jobs") }
        refused("read certificates") { _ = try a.query("SELECT count(*) FROM certbus.certificates") }
        refused("read agents") { _ = try a.query("SELECT count(*) FROM certbus.agents") }
        refused("read the audit log") { _ = try a.query("SELECT count(*) FROM certbus.audit_log") }
        refused("change a status directly") {
            _ = try a.query("SELECT certbus.change_endpoint_status($1, 'ACTION_REQUIRED', 'AGENT', 'x', '', NULL)", [endpointB.id])
        }
        refused("request installs") {
            _ = try a.query("SELECT certbus.request_install($1, NULL, 'web', NULL, NULL, 'AGENT', 'x')", [endpointB.id])
        }
        refused("enqueue jobs") { _ = try a.query("SELECT certbus.enqueue_job('NOOP')") }

        // A claims only its own job, even though B's is due on B's queue.
        let claimed = try clientA.claim(limit: 10, on: a)
        #expect(claimed.map(\.id) == [jobA])

        // B claims its job as B; A cannot finish, extend or read it.
        let b = try roleB.connect(db)
        defer { b.close() }
        let jobOfB = try #require(try asIfB.claim(on: b).first)
        #expect(jobOfB.id == jobB)
        refused("finish B's job") { try clientA.finish(jobOfB, outcome: .installed, on: a) }
        refused("finish B's job claiming to be B") { try asIfB.finish(jobOfB, outcome: .agentError, on: a) }
        refused("read B's job") { _ = try clientA.installDetails(jobOfB, on: a) }

        #expect(try AgentTestSupport.jobStatus(jobB, on: admin).status == "RUNNING")
        #expect(try EndpointStore.find(id: endpointB.id, on: admin).automationStatus == .automationRequested)
        #expect(try AgentStore.find("agent-b", on: admin).status == .neverSeen)
        #expect(try AgentStore.find("agent-a", on: admin).status == .online)
    }

    @Test func aServiceSessionMayActForAnyAgentButBadCallsAreRefused() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let (agent, endpoint) = try AgentTestSupport.agentWithEndpoint("edge", endpoint: "web", on: c)
        let client = AgentClient(agentId: agent.id)
        #expect(try client.heartbeat(hostname: "h", version: "v", on: c) == .neverSeen)
        let unknown = #expect(throws: PostgresError.self) { try AgentClient(agentId: UUID()).heartbeat(hostname: "h", version: "v", on: c) }
        #expect(unknown?.sqlState == "P0002")
        #expect(throws: PostgresError.self) { _ = try AgentClient.lookup(name: "nobody", on: c) }
        #expect(throws: PostgresError.self) { _ = try client.claim(limit: 0, on: c) }
        // Installs only for AGENT endpoints with an agent, with a certificate xor a profile.
        let sensor = try EndpointStore.add(EndpointDraft(name: "lb", kind: .sensor, host: "lb.test"), actor: .user("a"), on: c)
        for (id, certificate, profile) in [(sensor.id, nil, "web"), (endpoint.id, nil, nil), (endpoint.id, UUID(), "web"), (endpoint.id, UUID(), nil)] as [(UUID, UUID?, String?)] {
            #expect(throws: PostgresError.self) {
                try AgentTestSupport.requestInstall(id, certificate: certificate, profile: profile, on: c)
            }
        }
        #expect(try AgentTestSupport.count(c, "SELECT count(*) AS n FROM certbus.jobs") == 0)
        #expect(try EndpointStore.find(id: endpoint.id, on: c).automationStatus == .configured)
        // One install per endpoint at a time.
        try AgentTestSupport.requestInstall(endpoint.id, profile: "web", on: c)
        let twice = #expect(throws: PostgresError.self) { try AgentTestSupport.requestInstall(endpoint.id, profile: "web", on: c) }
        #expect(twice?.isUniqueViolation == true)
    }
}
