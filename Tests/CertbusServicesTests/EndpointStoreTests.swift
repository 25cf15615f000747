import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Adding and finding endpoints; bad input is refused with a clear error and changes nothing.
@Suite struct EndpointStoreTests {
    private func counts(_ c: Connection) throws -> (endpoints: Int, agents: Int, history: Int) {
        let row = try c.query(
            """
            SELECT (SELECT count(*) FROM certbus.endpoints) AS e, (SELECT count(*) FROM certbus.agents) AS a,
                   (SELECT count(*) FROM certbus.endpoint_status_history) AS h
            """)[0]
        return (try row.decode("e"), try row.decode("a"), try row.decode("h"))
    }

    @Test func addListAndFind() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let a = try EndpointStore.add(
            EndpointDraft(name: "web-a", kind: .agent, host: "10.1.2.3", port: 8443, serverName: "www.example.test", agentName: "edge-1"),
            actor: .user("alice"), on: c)
        let b = try EndpointStore.add(EndpointDraft(name: "web-b", kind: .agent, host: "b.example.test"), actor: .user("alice"), on: c)
        let s = try EndpointStore.add(EndpointDraft(name: "lb", kind: .sensor, host: "::1", port: 443), actor: .user("alice"), on: c)
        #expect(a.sniName == "www.example.test" && a.address == "10.1.2.3:8443")
        #expect(b.automationStatus == .notConfigured, "an agent endpoint without an agent cannot automate yet")
        #expect(b.sniName == "b.example.test")
        #expect(s.sniName == nil && s.nameToVerify == "::1" && s.address == "[::1]:443")
        #expect(try EndpointStore.list(on: c).map(\.name) == ["lb", "web-a", "web-b"])
        #expect(try EndpointStore.list(kind: .agent, on: c).map(\.name) == ["web-a", "web-b"])
        #expect(try EndpointStore.list(status: .notConfigured, on: c).map(\.name) == ["web-b"])
        #expect(try EndpointStore.find(a.id.uuidString, on: c) == a)
        let agent = try AgentStore.find("edge-1", on: c)
        #expect(agent.status == .neverSeen)
        #expect(try EndpointStore.list(agentId: agent.id, on: c).map(\.name) == ["web-a"])
        // A second endpoint of the same agent reuses it.
        _ = try EndpointStore.add(EndpointDraft(name: "web-c", kind: .agent, host: "c.example.test", agentName: "edge-1"), actor: .user("alice"), on: c)
        #expect(try AgentStore.list(on: c).count == 1)
        let audit = try c.query(
            "SELECT action, entity_type, actor_id FROM certbus.audit_log ORDER BY id").map {
                "\(try $0.decode("action", as: String.self)) \(try $0.decode("entity_type", as: String.self)) \(try $0.decode("actor_id", as: String.self))"
            }
        #expect(audit == [
            "AGENT_REGISTERED Agent alice", "ENDPOINT_ADDED Endpoint alice", "ENDPOINT_ADDED Endpoint alice",
            "ENDPOINT_ADDED Endpoint alice", "ENDPOINT_ADDED Endpoint alice",
        ])
    }

    @Test func badInputIsRefusedAndChangesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        _ = try EndpointStore.add(EndpointDraft(name: "taken", kind: .sensor, host: "taken.example.test"), actor: .user("t"), on: c)
        let before = try counts(c)
        let cases: [(EndpointDraft, EndpointError.Kind, String)] = [
            (EndpointDraft(name: "", kind: .sensor, host: "a.test"), .invalidInput, "is empty"),
            (EndpointDraft(name: "bad name", kind: .sensor, host: "a.test"), .invalidInput, "may only contain"),
            (EndpointDraft(name: "x", kind: .sensor, host: "bad_host!"), .invalidInput, "host \"bad_host!\""),
            (EndpointDraft(name: "x", kind: .sensor, host: "999.1.1.1"), .invalidInput, "malformed IP"),
            (EndpointDraft(name: "x", kind: .sensor, host: "a.test", port: 70000), .invalidInput, "port 70000"),
            (EndpointDraft(name: "x", kind: .sensor, host: "a.test", port: 0), .invalidInput, "port 0"),
            (EndpointDraft(name: "x", kind: .sensor, host: "a.test", serverName: "-x.test"), .invalidInput, "server name"),
            (EndpointDraft(name: "x", kind: .sensor, host: "a.test", agentName: "edge"), .invalidInput, "only AGENT endpoints"),
            (EndpointDraft(name: "x", kind: .agent, host: "a.test", agentName: "bad agent"), .invalidInput, "agent name"),
            (EndpointDraft(name: "x", kind: .agent, host: "a.test", initialStatus: .ipUnreachable), .invalidInput, "cannot start as 'IP Unreachable'"),
            (EndpointDraft(name: "x", kind: .sensor, host: "a.test", initialStatus: .installationValidated), .invalidInput, "cannot start"),
            (EndpointDraft(name: "x", kind: .sensor, host: "a.test", expectedCertificate: "nonsense"), .invalidInput, "neither a certificate id"),
            (EndpointDraft(name: "x", kind: .agent, host: "a.test", expectedCertificate: UUID().uuidString, agentName: "new-agent"), .notFound, "no certificate with id"),
            (EndpointDraft(name: "x", kind: .sensor, host: "a.test", expectedCertificate: String(repeating: "ab", count: 32)), .notFound, "no certificate with fingerprint"),
            (EndpointDraft(name: "taken", kind: .sensor, host: "b.test"), .duplicate, "exists already"),
        ]
        for (draft, kind, text) in cases {
            let error = try #require(throws: EndpointError.self, "\(draft)") {
                try EndpointStore.add(draft, actor: .user("t"), on: c)
            }
            #expect(error.kind == kind, "\(draft.name): \(error)")
            #expect(error.message.contains(text), "\(error.message)")
        }
        let after = try counts(c)
        #expect(after == before, "nothing may change: the agent of a refused endpoint is not registered either")
        #expect(throws: EndpointError.self) { try EndpointStore.find("nope", on: c) }
        #expect(throws: EndpointError.self) { try EndpointStore.find(id: UUID(), on: c) }
    }

    @Test func hostPortParsing() throws {
        #expect(try HostPort(parsing: "www.example.com:443") == HostPort(host: "www.example.com", port: 443))
        #expect(try HostPort(parsing: "127.0.0.1:8443").port == 8443)
        #expect(try HostPort(parsing: "[::1]:443").host == "::1")
        #expect(try HostPort(parsing: "[::1]:443").description == "[::1]:443")
        for bad in ["www.example.com", "host:", ":443", "host:0", "host:65536", "host:44a", "::1:443", "[::1]443",
                    "[zz]:443", "bad host:443", "a..b:443", "-a.b:443", "256.1.1.1:443", "[::1:443"] {
            #expect(throws: HostPortError.self, "\(bad)") { try HostPort(parsing: bad) }
        }
        let error = try #require(throws: HostPortError.self) { try HostPort(parsing: "host:99999") }
        #expect(error.description == "invalid target \"host:99999\": port \"99999\" is not a number between 1 and 65535")
    }
}

/// The audit actions the endpoint area adds to the vocabulary.
@Suite struct EndpointAuditVocabularyTests {
    @Test func endpointActionsAreInTheVocabulary() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let stored = Set(try c.query("SELECT action FROM certbus.audit_actions").map { try $0.decode("action", as: String.self) })
        let ours: [AuditAction] = [.endpointAdded, .agentRegistered, .agentOffline, .agentOnline]
        #expect(Set(ours.map(\.rawValue)).isSubset(of: stored))
    }
}
