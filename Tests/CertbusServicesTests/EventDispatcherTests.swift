import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The dispatcher: precedence, conditions, actions, failure isolation, retries, concurrency.
@Suite struct EventDispatcherTests {
    let admin = Actor.user("alice")

    func alertAction(_ title: String, per: TriggerAction.AlertGrouping? = nil) -> TriggerAction {
        .raiseAlert(type: .warn, severity: .warn, title: title, message: nil, per: per)
    }

    func expiring(_ c: Connection, certificate: UUID, daysLeft: Int) throws -> Int64 {
        try EventLog.emit(on: c, CertificateExpiringEventData(
            certificateId: certificate, notAfter: daysFromNow(Double(daysLeft)), daysLeft: daysLeft,
            thresholdDays: 30, status: "EXPIRING"))
    }

    func alertTitles(_ c: Connection) throws -> [String] {
        try c.query("SELECT title FROM certbus.alerts ORDER BY title").map { try $0.decode("title", as: String.self) }
    }

    @Test func groupOverridesProfileOverridesPlatform() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let ca = try f.insertCA()
        let web = try f.insertProfile(name: "web", caId: ca)
        let mail = try f.insertProfile(name: "mail", caId: ca)
        let shop = try f.insertGroup(name: "shop")
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "platform", eventType: .certificateExpiring, actions: [alertAction("platform {{certificate_id}}")]), actor: admin)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "web-profile", eventType: .certificateExpiring, scope: .raProfile(web),
            actions: [alertAction("profile {{certificate_id}}")]), actor: admin)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "shop-group", eventType: .certificateExpiring, scope: .group(shop),
            actions: [alertAction("group {{certificate_id}}")]), actor: admin)

        let inGroup = try f.insertCertificate(caId: ca, profileId: web, groupId: shop, notAfter: daysFromNow(5))
        let inProfile = try f.insertCertificate(caId: ca, profileId: web, notAfter: daysFromNow(5))
        let elsewhere = try f.insertCertificate(caId: ca, profileId: mail, notAfter: daysFromNow(5))
        for cert in [inGroup, inProfile, elsewhere] { _ = try expiring(c, certificate: cert, daysLeft: 5) }

        let summary = try EventDispatcher().drain(on: c)
        #expect(summary == DispatchSummary(events: 3, runs: 3, failures: 0))
        #expect(try Set(alertTitles(c)) == [
            "group \(inGroup.uuidString.lowercased())", "profile \(inProfile.uuidString.lowercased())",
            "platform \(elsewhere.uuidString.lowercased())",
        ])
    }

    @Test func disabledOverrideNoLongerHidesThePlatform() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let ca = try f.insertCA()
        let web = try f.insertProfile(name: "web", caId: ca)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "platform", eventType: .certificateExpiring, actions: [alertAction("platform")]), actor: admin)
        // The override's condition does not match, yet it still hides the platform trigger (documented rule).
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "web", eventType: .certificateExpiring, scope: .raProfile(web), condition: "days_left <= 1",
            actions: [alertAction("profile")]), actor: admin)
        let cert = try f.insertCertificate(caId: ca, profileId: web, notAfter: daysFromNow(5))
        _ = try expiring(c, certificate: cert, daysLeft: 5)
        _ = try EventDispatcher().drain(on: c)
        #expect(try alertTitles(c) == [])
        try EventTriggers.setEnabled(on: c, "web", enabled: false, actor: admin)
        _ = try expiring(c, certificate: cert, daysLeft: 5)
        _ = try EventDispatcher().drain(on: c)
        #expect(try alertTitles(c) == ["platform"])
        #expect(try c.query("SELECT count(*) AS n FROM certbus.audit_log WHERE action = 'TRIGGER_CHANGED'")[0]
            .decode("n", as: Int.self) == 3)
    }

    @Test func conditionsSelectEvents() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "urgent", eventType: .certificateExpiring, condition: "days_left <= 7",
            actions: [alertAction("urgent {{days_left}}", per: .event)]), actor: admin)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "renewal-failed", eventType: .certificateActionPerformed, condition: "action in (RENEW, REKEY) and outcome = FAILURE",
            actions: [.raiseAlert(type: .error, severity: .error, title: "renewal of {{certificate_id}} failed: {{error}}",
                                  message: nil, per: nil)]), actor: admin)
        for days in [30, 14, 7, 1] { _ = try expiring(c, certificate: UUID(), daysLeft: days) }
        let cert = UUID()
        for (action, outcome) in [(CertificateAction.renew, EventOutcome.failure), (.renew, .success), (.issue, .failure)] {
            try EventLog.emit(on: c, CertificateActionPerformedEventData(
                certificateId: cert, action: action, outcome: outcome, error: outcome == .failure ? "CA down" : nil))
        }
        let summary = try EventDispatcher().drain(on: c)
        #expect(summary.events == 7)
        #expect(summary.runs == 3)
        #expect(try alertTitles(c) == ["renewal of \(cert.uuidString.lowercased()) failed: CA down", "urgent 1", "urgent 7"])
        let matched = try c.query(
            "SELECT event_type, sum(triggers_matched)::int AS n FROM certbus.events GROUP BY 1 ORDER BY 1")
        #expect(try matched.map { try $0.decode("n", as: Int.self) } == [1, 2])
        #expect(try c.query("SELECT count(*) AS n FROM certbus.events WHERE dispatch_state = 'PENDING'")[0]
            .decode("n", as: Int.self) == 0)
    }

    @Test func pgChannelProfileNotifiesAndLogs() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let listener = try db.connect()
        try listener.listen("ops_certificates")
        let profile = try NotificationProfiles.create(
            on: c, NewNotificationProfile(name: "ops", kind: .pgChannel, channel: "ops_certificates"), keyEncryptionKey: nil,
            actor: admin)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "tell-ops", eventType: .discoveryFinished, actions: [.notify(profileId: profile.id)]), actor: admin)
        let event = try EventLog.emit(on: c, DiscoveryFinishedEventData(
            discoveryId: "d-9", outcome: .success, certificatesFound: 3, newCertificates: 1))
        _ = try EventDispatcher().drain(on: c)
        var received: [PostgresNotification] = []
        let deadline = Date().addingTimeInterval(5)
        while received.isEmpty, Date() < deadline { received += try listener.waitForNotifications(timeout: 0.5) }
        let message = try #require(received.first)
        #expect(message.channel == "ops_certificates")
        let body = try PayloadValue.parse(json: message.payload)
        #expect(body.value(at: ["event_id"]) == .number(Double(event)))
        #expect(body.value(at: ["event_type"]) == .string("DISCOVERY_FINISHED"))
        #expect(body.value(at: ["trigger"]) == .string("tell-ops"))
        let log = try c.query("SELECT status, event_id FROM certbus.notification_deliveries WHERE profile_id = $1", [profile.id])
        #expect(log.count == 1)
        #expect(try log[0].decode("status", as: String.self) == "DELIVERED")
        // Disabled profiles are skipped, not failed.
        try NotificationProfiles.setEnabled(on: c, "ops", enabled: false, actor: admin)
        _ = try EventLog.emit(on: c, DiscoveryFinishedEventData(
            discoveryId: "d-10", outcome: .success, certificatesFound: 0, newCertificates: 0))
        #expect(try EventDispatcher().drain(on: c).failures == 0)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.notification_deliveries")[0].decode("n", as: Int.self) == 1)
        let skipped = try c.query(
            "SELECT r.result::text AS r FROM certbus.event_trigger_runs r JOIN certbus.events e ON e.id = r.event_id WHERE e.resource_id = 'd-10'")
        #expect(try skipped[0].decode("r", as: String.self).contains("profile disabled"))
    }

    @Test func failingTriggerIsRetriedAndNeverBlocksOtherEvents() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        // A test-only trap: raising an alert titled "explode" fails with a retryable error while the trap exists.
        try c.executeScript("""
            CREATE FUNCTION certbus.test_trap() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.title LIKE 'explode%' THEN RAISE EXCEPTION 'receiver busy' USING ERRCODE = '55P03'; END IF;
              RETURN NEW;
            END $$;
            COMMENT ON FUNCTION certbus.test_trap() IS 'test only';
            CREATE TRIGGER test_trap BEFORE INSERT ON certbus.alerts FOR EACH ROW EXECUTE FUNCTION certbus.test_trap();
            """)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "two-actions", eventType: .discoveryFinished,
            actions: [alertAction("first {{discovery_id}}", per: .event), alertAction("{{name}} {{discovery_id}}", per: .event)]),
            actor: admin)
        try EventLog.emit(on: c, DiscoveryFinishedEventData(discoveryId: "a", name: "explode", outcome: .success, certificatesFound: 0, newCertificates: 0))
        try EventLog.emit(on: c, DiscoveryFinishedEventData(discoveryId: "b", name: "fine", outcome: .success, certificatesFound: 0, newCertificates: 0))
        let first = try EventDispatcher().drain(on: c)
        #expect(first == DispatchSummary(events: 2, runs: 2, failures: 1))
        // The failing run rolled back its first action too; the other event went through.
        #expect(try alertTitles(c) == ["fine b", "first b"])
        let failed = try c.query(
            "SELECT r.status, r.attempts, r.error, r.next_attempt_at > now() AS later FROM certbus.event_trigger_runs r JOIN certbus.events e ON e.id = r.event_id WHERE e.resource_id = 'a'")[0]
        #expect(try failed.decode("status", as: String.self) == "RETRYING")
        #expect(try failed.decode("error", as: String.self).contains("receiver busy"))
        #expect(try failed.decode("later", as: Bool.self))
        #expect(try c.query("SELECT count(*) AS n FROM certbus.events WHERE dispatch_state = 'DISPATCHED'")[0].decode("n", as: Int.self) == 2)

        // Not due yet: nothing happens. Once due and the receiver is back, it succeeds.
        #expect(try EventDispatcher().retryDueRuns(on: c).runs == 0)
        try c.execute("UPDATE certbus.event_trigger_runs SET next_attempt_at = now() WHERE status = 'RETRYING'")
        #expect(try EventDispatcher().retryDueRuns(on: c) == DispatchSummary(events: 0, runs: 1, failures: 1))
        let again = try c.query("SELECT status, attempts FROM certbus.event_trigger_runs WHERE status <> 'SUCCEEDED'")[0]
        #expect(try again.decode("attempts", as: Int.self) == 2)
        try c.execute("DROP TRIGGER test_trap ON certbus.alerts")
        try c.execute("UPDATE certbus.event_trigger_runs SET next_attempt_at = now() WHERE status = 'RETRYING'")
        #expect(try EventDispatcher().retryDueRuns(on: c) == DispatchSummary(events: 0, runs: 1, failures: 0))
        #expect(try alertTitles(c) == ["explode a", "fine b", "first a", "first b"])
        let done = try c.query("SELECT status, attempts, error FROM certbus.event_trigger_runs ORDER BY event_id")
        #expect(try done.map { try $0.decode("status", as: String.self) } == ["SUCCEEDED", "SUCCEEDED"])
        #expect(try done[0].decode("attempts", as: Int.self) == 3)
        #expect(try done[0].decode("error", as: String?.self) == nil)
    }

    @Test func runsGiveUpAfterMaxAttemptsAndPermanentFailuresAtOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let profile = try NotificationProfiles.create(
            on: c, NewNotificationProfile(name: "gone", kind: .pgChannel, channel: "gone_channel"), keyEncryptionKey: nil, actor: admin)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "to-gone", eventType: .approvalRequested, actions: [.notify(profileId: profile.id)]), actor: admin)
        try c.execute("DELETE FROM certbus.notification_profiles WHERE id = $1", [profile.id])
        // A trigger written by hand in SQL with a condition that does not parse.
        try c.execute("""
            INSERT INTO certbus.event_triggers (name, event_type, condition, actions)
            VALUES ('hand-made', 'APPROVAL_REQUESTED', 'status ~ x', '[{"type":"RAISE_ALERT","alert_type":"WARN","severity":"WARN"}]')
            """)
        try EventLog.emitApproval(on: c, closed: false, ApprovalEventData(approvalId: "ap", status: "PENDING"))
        let summary = try EventDispatcher(maxRunAttempts: 2).drain(on: c)
        #expect(summary == DispatchSummary(events: 1, runs: 2, failures: 2))
        let runs = try c.query("SELECT status, error FROM certbus.event_trigger_runs ORDER BY error")
        #expect(try runs.map { try $0.decode("status", as: String.self) } == ["FAILED", "FAILED"])
        #expect(try runs[0].decode("error", as: String.self).contains("condition does not parse"))
        #expect(try runs[1].decode("error", as: String.self).contains("does not exist"))
    }

    @Test func twoDispatchersHandleEveryEventOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "every", eventType: .scheduledJobFinished, actions: [alertAction("{{summary}}", per: .event)]), actor: admin)
        let total = 600
        try c.execute(
            """
            SELECT certbus.emit_event('SCHEDULED_JOB_FINISHED', 'SCHEDULED_JOB', 'task', jsonb_build_object('summary', 'run ' || g))
              FROM generate_series(1, $1) g
            """, [total])
        let handled = LockedBox<[String: Int]>([:])
        let errors = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { i in
            do {
                let conn = try db.connect()
                defer { conn.close() }
                let dispatcher = EventDispatcher(batchSize: 20, identity: "d\(i)")
                let summary = try dispatcher.drain(on: conn)
                handled.mutate { $0["d\(i)"] = summary.events }
            } catch {
                errors.mutate { $0.append("\(error)") }
            }
        }
        #expect(errors.value == [])
        #expect(handled.value.values.reduce(0, +) == total)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.alerts")[0].decode("n", as: Int.self) == total)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.event_trigger_runs")[0].decode("n", as: Int.self) == total)
        #expect(try c.query("SELECT count(DISTINCT title) AS n FROM certbus.alerts")[0].decode("n", as: Int.self) == total)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.events WHERE dispatch_state = 'PENDING'")[0].decode("n", as: Int.self) == 0)
    }

    @Test func badTriggersAreRefusedAndWriteNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let profile = try f.insertProfile(name: "web", caId: try f.insertCA())
        let ok = [alertAction("x")]
        #expect(throws: TriggerError.self) {
            try EventTriggers.create(on: c, NewEventTrigger(name: "bad name!", eventType: .certificateExpiring, actions: ok), actor: admin)
        }
        #expect(throws: TriggerConditionError.self) {
            try EventTriggers.create(on: c, NewEventTrigger(name: "t", eventType: .certificateExpiring, condition: "days_left <=", actions: ok), actor: admin)
        }
        #expect(throws: TriggerError.self) {
            try EventTriggers.create(on: c, NewEventTrigger(name: "t", eventType: .certificateExpiring, actions: []), actor: admin)
        }
        #expect(throws: TriggerError.self) {
            try EventTriggers.create(on: c, NewEventTrigger(name: "t", eventType: .discoveryFinished, scope: .raProfile(profile), actions: ok), actor: admin)
        }
        #expect(throws: TriggerError.self) {
            try EventTriggers.create(on: c, NewEventTrigger(name: "t", eventType: .certificateExpiring, scope: .group(UUID()), actions: ok), actor: admin)
        }
        #expect(throws: TriggerError.self) {
            try EventTriggers.create(on: c, NewEventTrigger(name: "t", eventType: .certificateExpiring, actions: [.notify(profileId: UUID())]), actor: admin)
        }
        _ = try EventTriggers.create(on: c, NewEventTrigger(name: "t", eventType: .certificateExpiring, actions: ok), actor: admin)
        #expect(throws: TriggerError.self) {
            try EventTriggers.create(on: c, NewEventTrigger(name: "t", eventType: .certificateStatusChanged, actions: ok), actor: admin)
        }
        #expect(throws: TriggerError.self) { try EventTriggers.setEnabled(on: c, "nope", enabled: false, actor: admin) }
        // SQL written by hand is held to the scope rule as well.
        #expect(throws: PostgresError.self) {
            try c.execute("""
                INSERT INTO certbus.event_triggers (name, event_type, scope, profile_id, actions)
                VALUES ('sql', 'DISCOVERY_FINISHED', 'RA_PROFILE', $1, '[{"type":"NOTIFY"}]')
                """, [profile])
        }
        #expect(try EventTriggers.list(on: c).map(\.name) == ["t"])
        #expect(try c.query("SELECT count(*) AS n FROM certbus.audit_log WHERE action = 'TRIGGER_CHANGED'")[0].decode("n", as: Int.self) == 1)
    }
}
