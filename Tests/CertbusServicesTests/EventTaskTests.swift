import CertbusBus
import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Periodic tasks report SCHEDULED_JOB_FINISHED; the dispatcher service reacts to NOTIFY; job-enqueuing actions.
@Suite struct EventTaskTests {
    struct Failing: PeriodicTask {
        var name: String { "always-fails" }
        var interval: Double { 60 }
        struct Boom: Error, CustomStringConvertible { var description: String { "disk on fire" } }
        func run(_ connection: Connection) throws -> String { throw Boom() }
    }

    func finishedEvents(_ c: Connection) throws -> [PayloadValue] {
        try c.query("SELECT payload::text AS p FROM certbus.events WHERE event_type = 'SCHEDULED_JOB_FINISHED' ORDER BY id")
            .map { try PayloadValue.parse(json: try $0.decode("p", as: String.self)) }
    }

    @Test func tasksReportTheirOutcome() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try EventFixtures(connection: c).insertCertificate(notAfter: daysFromNow(3))
        let summary = try ReportedTask(CertificateExpiryTask()).run(c)
        #expect(summary.contains("1 expiring without replacement"))
        #expect(summary.contains("1 alerts raised"))
        #expect(throws: Failing.Boom.self) { try ReportedTask(Failing()).run(c) }
        let events = try finishedEvents(c)
        #expect(events.count == 2)
        #expect(events[0].value(at: ["task"]) == .string("certificate-expiry"))
        #expect(events[0].value(at: ["outcome"]) == .string("SUCCESS"))
        #expect(events[0].value(at: ["summary"]) == .string(summary))
        #expect(events[1].value(at: ["task"]) == .string("always-fails"))
        #expect(events[1].value(at: ["outcome"]) == .string("FAILURE"))
        #expect(events[1].value(at: ["error"]) == .string("disk on fire"))
        #expect(try c.query("SELECT resource_id FROM certbus.events WHERE event_type = 'SCHEDULED_JOB_FINISHED' ORDER BY id")
            .map { try $0.decode("resource_id", as: String.self) } == ["certificate-expiry", "always-fails"])
        #expect(EventTasks.all().map(\.name) == ["certificate-expiry", "job-failure-alerts", "event-retention"])
        #expect(EventTasks.all(retention: .forever).map(\.name) == ["certificate-expiry", "job-failure-alerts"])
    }

    @Test func enqueueJobActionRenewsExpiringCertificatesOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let cert = try EventFixtures(connection: c).insertCertificate(notAfter: daysFromNow(3))
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "renew-expiring", eventType: .certificateExpiring,
            actions: [.enqueueJob(kind: .renewCertificate, priority: 20, payload: ["rekey": .bool(true)])]),
            actor: .user("alice"))
        _ = try CertificateExpiryScan(announceEveryRun: true).run(on: c)
        _ = try CertificateExpiryScan(announceEveryRun: true).run(on: c)
        #expect(try EventDispatcher().drain(on: c) == DispatchSummary(events: 3, runs: 2, failures: 0))
        let jobs = try c.query("SELECT kind, priority, certificate_id, payload::text AS p, triggered_by_id FROM certbus.jobs")
        #expect(jobs.count == 1)  // the second expiring event found the renewal already queued
        #expect(try jobs[0].decode("certificate_id", as: UUID.self) == cert)
        #expect(try jobs[0].decode("priority", as: Int.self) == 20)
        let payload = try PayloadValue.parse(json: try jobs[0].decode("p", as: String.self))
        #expect(payload.value(at: ["certificate_id"]) == .string(cert.uuidString.lowercased()))
        #expect(payload.value(at: ["rekey"]) == .bool(true))
        #expect(payload.value(at: ["event_type"]) == .string("CERTIFICATE_EXPIRING"))
        let results = try c.query("SELECT result::text AS r FROM certbus.event_trigger_runs ORDER BY id").map { try $0.decode("r", as: String.self) }
        #expect(results[1].contains("already_queued"))
    }

    @Test func webhookNotifyActionEnqueuesADelivery() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let profile = try NotificationProfiles.create(
            on: c, NewNotificationProfile(name: "hook", kind: .webhook, url: "http://127.0.0.1:9/x", maxAttempts: 4),
            keyEncryptionKey: nil, actor: .user("alice"))
        let trigger = try EventTriggers.create(on: c, NewEventTrigger(
            name: "hook-all", eventType: .approvalClosed, actions: [.notify(profileId: profile.id)]), actor: .user("alice"))
        let event = try EventLog.emitApproval(on: c, closed: true, ApprovalEventData(approvalId: "ap-1", status: "APPROVED"))
        #expect(try EventDispatcher().drain(on: c).failures == 0)
        let job = try c.query("SELECT kind, max_attempts, payload::text AS p FROM certbus.jobs")[0]
        #expect(try job.decode("kind", as: String.self) == "DELIVER_NOTIFICATION")
        #expect(try job.decode("max_attempts", as: Int.self) == 4)
        let payload = try JSONDecoder().decode(DeliverNotificationPayload.self, from: Data(try job.decode("p", as: String.self).utf8))
        #expect(payload == DeliverNotificationPayload(profileId: profile.id, eventId: event, triggerId: trigger.id))
    }

    @Test func dispatcherServiceWakesOnNotify() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "all", eventType: .discoveryFinished,
            actions: [.raiseAlert(type: .warn, severity: .warn, title: "discovery {{discovery_id}}", message: nil, per: .event)]),
            actor: .user("alice"))
        // A long poll interval: only the NOTIFY can make this fast enough to pass within the deadline.
        let service = EventDispatcherService(configuration: db.configuration(), pollInterval: 60, log: .silent)
        try service.start()
        defer { service.stop(grace: 5) }
        let listening = Date().addingTimeInterval(20)
        while !service.isListening, Date() < listening { Thread.sleep(forTimeInterval: 0.05) }
        try #require(service.isListening)
        try EventLog.emit(on: c, DiscoveryFinishedEventData(discoveryId: "d-1", outcome: .success, certificatesFound: 0, newCertificates: 0))
        let deadline = Date().addingTimeInterval(20)
        var count = 0
        while count == 0, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            count = try c.query("SELECT count(*)::int AS n FROM certbus.alerts")[0].decode("n", as: Int.self)
        }
        #expect(count == 1)
        #expect(service.totals.events >= 1)
    }
}
