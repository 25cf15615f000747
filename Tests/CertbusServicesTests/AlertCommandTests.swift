import CertbusTesting
import Foundation
import Postgres
import Testing

/// `certbus alerts|events|triggers|notify-profiles ...` end to end (run `swift build` first).
@Suite struct AlertCommandTests {
    /// Runs `certbus arguments…` against `db` (see `CertbusCommand`).
    func certbus(_ arguments: [String], _ db: TestDatabase, environment: [String: String] = [:]) throws -> CommandResult {
        try CertbusCommand.run(arguments, database: db, environment: environment)
    }

    @Test func profilesTriggersAndBadInput() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let home = FileManager.default.temporaryDirectory.appendingPathComponent(TestCluster.uniqueName(prefix: "home")).path
        defer { try? FileManager.default.removeItem(atPath: home) }
        let env = ["CERTBUS_HOME": home, "HOOK_SECRET": "0123456789abcdef0123"]
        let created = try certbus(["notify-profiles", "create", "hook", "--kind", "webhook", "--url", "https://hooks.example.com/x",
                                   "--secret-env", "HOOK_SECRET"], db, environment: env)
        #expect(created.status == 0, "\(created.error)")
        #expect(created.output.contains("signed"))
        #expect(!created.output.contains("0123456789abcdef0123"))
        let shown = try certbus(["notify-profiles", "show", "hook", "--json"], db)
        #expect(shown.status == 0)
        #expect(!shown.output.contains("0123456789abcdef0123"))

        let trigger = try certbus(["triggers", "create", "soon", "--on", "CERTIFICATE_EXPIRING", "--when", "days_left <= 7",
                                   "--action", "notify:hook", "--action", "alert:WARN", "--alert-title", "{{common_name}} soon"], db)
        #expect(trigger.status == 0, "\(trigger.error)")
        let listed = try certbus(["triggers", "list", "--json"], db)
        let triggers = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
        #expect(triggers.map { $0["name"] as? String } == ["soon"])
        #expect(triggers.first?["condition"] as? String == "days_left <= 7")

        // Bad input: a clear message, exit status 1, nothing written.
        let bad = [
            ["triggers", "create", "x", "--on", "CERTIFICATE_EXPIRING", "--when", "days_left <=", "--action", "alert:WARN"],
            ["triggers", "create", "x", "--on", "CERTIFICATE_EXPIRING", "--action", "notify:nope"],
            ["triggers", "create", "x", "--on", "CERTIFICATE_EXPIRING", "--action", "enqueue:BAKE"],
            ["triggers", "create", "x", "--on", "DISCOVERY_FINISHED", "--scope", "group:none", "--action", "alert:WARN"],
            ["notify-profiles", "create", "y", "--kind", "pg-channel", "--channel", "certbus_events"],
            ["notify-profiles", "create", "y", "--kind", "webhook", "--url", "not a url"],
            ["alerts", "read", "12345"],
            ["events", "show", "12345"],
        ]
        for arguments in bad {
            let result = try certbus(arguments, db, environment: env)
            #expect(result.status == 1, "\(arguments): \(result.error)")
            #expect(result.error.hasPrefix("error: "), "\(arguments): \(result.error)")
        }
        let usage = try certbus(["alerts", "read"], db)
        #expect(usage.status == 2)
        let c = try db.connect()
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.event_triggers")[0].decode("n", as: Int.self) == 1)
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.notification_profiles")[0].decode("n", as: Int.self) == 1)
    }

    @Test func scanListReadAndWatch() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try EventFixtures(connection: c).insertCertificate(commonName: "soon.example.com", notAfter: daysFromNow(3))
        let scan = try certbus(["events", "scan"], db)
        #expect(scan.status == 0, "\(scan.error)")
        #expect(scan.output.contains("1 CERTIFICATE_EXPIRING events"))
        let events = try certbus(["events", "list", "--type", "CERTIFICATE_EXPIRING", "--json"], db)
        #expect(try (JSONSerialization.jsonObject(with: Data(events.output.utf8)) as? [Any])?.count == 1)
        let list = try certbus(["alerts", "list", "--unread", "--json"], db)
        let alerts = try #require(try JSONSerialization.jsonObject(with: Data(list.output.utf8)) as? [[String: Any]])
        #expect(alerts.count == 1)
        #expect(alerts[0]["title"] as? String == "Certificate soon.example.com expires in 2 days")
        let id = try #require(alerts[0]["id"] as? Int)
        #expect(try certbus(["alerts", "read", String(id)], db).output == "marked 1 alert read\n")
        #expect(try certbus(["alerts", "list", "--unread"], db).output == "no alerts match\n")

        // The live view: started, it receives an alert raised afterwards without any polling of ours.
        let watch = try CertbusCommand(["alerts", "watch", "--severity", "ERROR", "--for", "6s", "--json"], database: db)
        let deadline = Date().addingTimeInterval(20)
        var ready = false
        while !ready, Date() < deadline {
            ready = try c.query(
                """
                SELECT count(*)::int AS n FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'certbus-alerts-watch' AND query LIKE '%FROM certbus.alerts%'
                """
            )[0].decode("n", as: Int.self) > 0
            if !ready { usleep(50_000) }
        }
        #expect(ready)
        try c.execute("SELECT certbus.raise_alert('ERROR', 'ERROR', 'Job 7 failed', 'boom', 'JOB', '7', 'job:7')")
        let watched = watch.finish()
        #expect(watched.status == 0, "\(watched.error)")
        let lines = watched.output.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let raised = lines.compactMap { $0 }.filter { $0["change"] as? String == "raised" }
        #expect(raised.count == 1)
        #expect((raised.first?["alert"] as? [String: Any])?["title"] as? String == "Job 7 failed")
    }
}
