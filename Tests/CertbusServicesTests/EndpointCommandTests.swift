import CertbusTesting
import Foundation
import Testing

/// `certbus endpoint ...` end to end.
@Suite struct EndpointCommandTests {
    @Test func addListShowHistoryAndSetStatus() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let added = try CertbusCommand.run(
            ["endpoint", "add", "web-1", "--kind", "agent", "--host", "127.0.0.1", "--port", "8443",
             "--server-name", "www.example.test", "--agent", "edge-1", "--json"], database: db)
        #expect(added.status == 0, "\(added.error)")
        let endpoint = try #require(try added.json() as? [String: Any])
        #expect(endpoint["automation_status"] as? String == "CONFIGURED")
        #expect(endpoint["address"] as? String == "127.0.0.1:8443")
        #expect(endpoint["agent"] as? String == "edge-1")

        let list = try CertbusCommand.run(["endpoint", "list"], database: db)
        #expect(list.status == 0)
        #expect(list.output.contains("web-1") && list.output.contains("Configured") && list.output.contains("edge-1"))

        let moved = try CertbusCommand.run(["endpoint", "set-status", "web-1", "automation-requested", "--message", "by hand"], database: db)
        #expect(moved.status == 0, "\(moved.error)")
        #expect(moved.output == "web-1: Configured -> Automation requested\n")

        let history = try CertbusCommand.run(["endpoint", "status-history", "web-1", "--json"], database: db)
        let rows = try #require(try history.json() as? [[String: Any]])
        #expect(rows.map { $0["to"] as? String } == ["CONFIGURED", "AUTOMATION_REQUESTED"])
        #expect(rows[1]["actor_id"] as? String == "cli-tester")
        #expect(rows[1]["message"] as? String == "by hand")

        let show = try CertbusCommand.run(["endpoint", "show", "web-1"], database: db)
        #expect(show.output.contains("automation status:  Automation requested"))
        #expect(show.output.contains("status history (latest 2 of 2)"))
    }

    @Test func badInputFailsClearlyAndChangesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        _ = try CertbusCommand.run(["endpoint", "add", "lb", "--kind", "sensor", "--host", "10.0.0.1"], database: db)
        let cases: [([String], Int32, String)] = [
            (["endpoint", "add", "x", "--kind", "toaster", "--host", "a.test"], 2, "unknown endpoint kind 'toaster'"),
            (["endpoint", "add", "x", "--kind", "sensor"], 2, "--host is required"),
            (["endpoint", "add", "x", "--kind", "sensor", "--host", "a.test", "--port", "99999"], 1, "port 99999"),
            (["endpoint", "add", "x", "--kind", "sensor", "--host", "bad host"], 1, "host \"bad host\""),
            (["endpoint", "add", "lb", "--kind", "sensor", "--host", "a.test"], 1, "exists already"),
            (["endpoint", "show", "nope"], 1, "no endpoint named \"nope\""),
            (["endpoint", "set-status", "lb", "installation-validated"], 1, "not a step of the automation workflow"),
            (["endpoint", "set-status", "lb", "script-error"], 1, "does not apply to sensor endpoints"),
            (["endpoint", "set-status", "lb", "bogus"], 2, "unknown automation status 'bogus'"),
            (["endpoint", "set-certificate", "lb", "not-a-cert"], 1, "neither a certificate id nor a SHA-256 fingerprint"),
        ]
        for (arguments, status, text) in cases {
            let result = try CertbusCommand.run(arguments, database: db)
            #expect(result.status == status, "\(arguments): \(result.error)")
            #expect(result.error.contains(text), "\(arguments): \(result.error)")
        }
        let list = try CertbusCommand.run(["endpoint", "list", "--json"], database: db)
        let endpoints = try #require(try list.json() as? [[String: Any]])
        #expect(endpoints.count == 1)
        #expect(endpoints[0]["automation_status"] as? String == "CONFIGURED")
        let history = try CertbusCommand.run(["endpoint", "status-history", "lb", "--json"], database: db)
        #expect((try history.json() as? [Any])?.count == 1)
    }
}
