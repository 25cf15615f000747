import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Heartbeats, the agent-offline task, its alert, and the alert resolving itself.
@Suite struct AgentLivenessTests {
    @Test func silentAgentGoesOfflineOnceAndComesBack() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let quiet = try AgentStore.register(name: "quiet", actor: .user("admin"), on: c)
        let fresh = try AgentStore.register(name: "fresh", actor: .user("admin"), on: c)
        _ = try AgentStore.register(name: "never", actor: .user("admin"), on: c)
        let client = AgentClient(agentId: quiet.id)
        #expect(try client.heartbeat(hostname: "web-01", version: "1.2", on: c) == .neverSeen)
        try AgentClient(agentId: fresh.id).heartbeat(hostname: "web-02", version: "1.2", on: c)
        let seen = try AgentStore.find("quiet", on: c)
        #expect(seen.status == .online && seen.hostname == "web-01" && seen.version == "1.2" && seen.lastSeenAt != nil)
        try c.execute("UPDATE certbus.agents SET last_seen_at = now() - interval '10 minutes' WHERE id = $1", [quiet.id])

        let task = AgentOfflineTask(threshold: 300)
        #expect(try task.run(c) == "1 agent(s) went offline")
        #expect(try AgentStore.find("quiet", on: c).status == .offline)
        #expect(try AgentStore.find("fresh", on: c).status == .online)
        #expect(try AgentStore.find("never", on: c).status == .neverSeen)
        let alerts = try c.query(
            "SELECT alert_type, severity, entity_type, entity_id, title FROM certbus.alerts WHERE cause_key = $1 AND resolved_at IS NULL",
            ["agent-offline:\(quiet.id.uuidString.lowercased())"])
        #expect(alerts.count == 1)
        #expect(try alerts[0].decode("alert_type", as: String.self) == "WARN")
        #expect(try alerts[0].decode("entity_type", as: String.self) == "AGENT")
        #expect(try alerts[0].decode("title", as: String.self) == "Agent quiet is offline")
        // Scans again: nothing new, still one alert.
        #expect(try task.run(c) == "0 agent(s) went offline")
        #expect(try AgentTestSupport.count(c, "SELECT count(*) AS n FROM certbus.alerts") == 1)

        // It heartbeats again: online, the alert is resolved (and kept).
        #expect(try client.heartbeat(hostname: "web-01", version: "1.3", on: c) == .offline)
        #expect(try AgentStore.find("quiet", on: c).status == .online)
        #expect(try AgentTestSupport.count(c, "SELECT count(*) AS n FROM certbus.alerts WHERE resolved_at IS NULL") == 0)
        #expect(try AgentTestSupport.count(c, "SELECT count(*) AS n FROM certbus.alerts WHERE resolved_at IS NOT NULL") == 1)
        let audit = try c.query(
            "SELECT action FROM certbus.audit_log WHERE entity_type = 'Agent' AND entity_id = $1 ORDER BY id",
            [quiet.id.uuidString.lowercased()]
        ).map { try $0.decode("action", as: String.self) }
        #expect(audit == ["AGENT_REGISTERED", "AGENT_OFFLINE", "AGENT_ONLINE"])
    }
}
