import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// certbus.emit_event and its Swift wrapper against a real database.
@Suite struct EventLogTests {
    @Test func emitsEveryTypeWithPayloadAndResource() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let certificateId = UUID()
        let now = Date()
        let payloads: [(EventType, String, Int64)] = try [
            (.certificateStatusChanged, certificateId.uuidString.lowercased(), EventLog.emit(on: c,
                CertificateStatusChangedEventData(certificateId: certificateId, oldStatus: "VALID", newStatus: "EXPIRING"))),
            (.certificateActionPerformed, "req-1", EventLog.emit(on: c,
                CertificateActionPerformedEventData(certificateId: nil, action: .issue, outcome: .failure,
                                                    error: "CA unreachable", requestId: "req-1"))),
            (.certificateExpiring, certificateId.uuidString.lowercased(), EventLog.emit(on: c,
                CertificateExpiringEventData(certificateId: certificateId, notAfter: now, daysLeft: 3,
                                             thresholdDays: 30, status: "EXPIRING"))),
            (.certificateDiscovered, certificateId.uuidString.lowercased(), EventLog.emit(on: c,
                CertificateDiscoveredEventData(certificateId: certificateId, discoveryId: "d-1", endpoint: "a:443"))),
            (.discoveryFinished, "d-1", EventLog.emit(on: c,
                DiscoveryFinishedEventData(discoveryId: "d-1", outcome: .success, certificatesFound: 4, newCertificates: 1))),
            (.approvalRequested, "ap-1", EventLog.emitApproval(on: c, closed: false,
                ApprovalEventData(approvalId: "ap-1", status: "PENDING"))),
            (.approvalClosed, "ap-1", EventLog.emitApproval(on: c, closed: true,
                ApprovalEventData(approvalId: "ap-1", status: "APPROVED", closedBy: "alice"))),
            (.scheduledJobFinished, "certificate-expiry", EventLog.emit(on: c,
                ScheduledJobFinishedEventData(task: "certificate-expiry", outcome: .success, summary: "ok",
                                              startedAt: now, finishedAt: now.addingTimeInterval(0.25)))),
            (.incidentOpened, "7", EventLog.emit(on: c,
                IncidentOpenedEventData(incidentId: 7, selector: "issued-by=corp-root", deadline: now, revokeOld: true,
                                        reason: "keyCompromise", certificates: 3, added: 3, retried: 0, rerun: false, openedBy: "USER:alice"))),
            (.incidentFinished, "7", EventLog.emit(on: c,
                IncidentFinishedEventData(incidentId: 7, selector: "issued-by=corp-root", outcome: .failure, certificates: 3, done: 2,
                                          failed: 1))),
        ]
        #expect(Set(payloads.map(\.0)) == Set(EventType.allCases))
        for (type, resourceId, id) in payloads {
            let row = try #require(try c.query(
                "SELECT event_type, resource, resource_id, dispatch_state, payload::text AS p FROM certbus.events WHERE id = $1",
                [id]).firstRow)
            #expect(try row.decode("event_type", as: String.self) == type.rawValue)
            #expect(try row.decode("resource", as: String.self) == type.resource.rawValue)
            #expect(try row.decode("resource_id", as: String.self) == resourceId)
            #expect(try row.decode("dispatch_state", as: String.self) == "PENDING")
        }
        let duration = try c.query(
            "SELECT (payload->>'duration_ms')::int AS d, payload->>'outcome' AS o FROM certbus.events WHERE event_type = 'SCHEDULED_JOB_FINISHED'")[0]
        #expect(try duration.decode("d", as: Int.self) == 250)
        #expect(try duration.decode("o", as: String.self) == "SUCCESS")
        let failed = try c.query(
            "SELECT payload->>'error' AS e, payload ? 'certificate_id' AS has FROM certbus.events WHERE event_type = 'CERTIFICATE_ACTION_PERFORMED'")[0]
        #expect(try failed.decode("e", as: String.self) == "CA unreachable")
        #expect(try failed.decode("has", as: Bool.self) == false)
    }

    @Test func nothingEmittedWhenTheTransactionRollsBack() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try c.withTransaction { tx in
                try EventLog.emit(on: tx, DiscoveryFinishedEventData(
                    discoveryId: "d-2", outcome: .failure, certificatesFound: 0, newCertificates: 0, error: "x"))
                throw Boom()
            }
        }
        #expect(try c.query("SELECT count(*) AS n FROM certbus.events")[0].decode("n", as: Int.self) == 0)
    }

    @Test func fillsProfileAndGroupFromTheCertificate() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let ca = try f.insertCA()
        let profile = try f.insertProfile(name: "web", caId: ca)
        let group = try f.insertGroup(name: "shop")
        let cert = try f.insertCertificate(caId: ca, profileId: profile, groupId: group, notAfter: daysFromNow(10))
        let id = try EventLog.emit(on: c, CertificateStatusChangedEventData(
            certificateId: cert, oldStatus: "VALID", newStatus: "EXPIRING"))
        let row = try c.query("SELECT profile_id, group_id FROM certbus.events WHERE id = $1", [id])[0]
        #expect(try row.decode("profile_id", as: UUID.self) == profile)
        #expect(try row.decode("group_id", as: UUID.self) == group)
    }

    @Test func notifiesTheIdOncePerStatement() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let listener = try db.connect()
        try listener.listen(EventLog.channel)
        let c = try db.connect()
        try c.execute(
            """
            SELECT certbus.emit_event('DISCOVERY_FINISHED', 'DISCOVERY', 'd-' || g, '{}'::jsonb)
              FROM generate_series(1, 3) g
            """)
        let last = try c.query("SELECT max(id) AS id FROM certbus.events")[0].decode("id", as: Int64.self)
        var received: [PostgresNotification] = []
        let deadline = Date().addingTimeInterval(5)
        while received.isEmpty, Date() < deadline {
            received += try listener.waitForNotifications(timeout: 0.5)
        }
        received += try listener.waitForNotifications(timeout: 0.2)
        #expect(received.map(\.payload).contains(String(last)))
        #expect(received.allSatisfy { Int64($0.payload) != nil })
    }

    @Test func badInputIsRefusedAndWritesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        #expect(throws: EventEmitError.self) {
            try EventLog.emit(on: c, type: .discoveryFinished, resource: .certificate, resourceId: "x",
                              payload: PostgresJSON(text: "{}"))
        }
        #expect(throws: EventEmitError.self) {
            try EventLog.emit(on: c, type: .discoveryFinished, resource: .discovery, resourceId: "",
                              payload: PostgresJSON(text: "{}"))
        }
        #expect(throws: PostgresError.self) {
            try EventLog.emit(on: c, type: .discoveryFinished, resource: .discovery, resourceId: "d",
                              payload: PostgresJSON(text: "[1,2]"))
        }
        // Straight SQL with a wrong type, a wrong resource or a bad profile id is refused too.
        #expect(throws: PostgresError.self) {
            try c.execute("SELECT certbus.emit_event('CERT_EXPLODED', 'CERTIFICATE', 'x', '{}')")
        }
        #expect(throws: PostgresError.self) {
            try c.execute("SELECT certbus.emit_event('APPROVAL_CLOSED', 'CERTIFICATE', 'x', '{}')")
        }
        #expect(throws: PostgresError.self) {
            try c.execute("SELECT certbus.emit_event('APPROVAL_CLOSED', 'APPROVAL', 'x', '{\"profile_id\": \"nope\"}')")
        }
        #expect(try c.query("SELECT count(*) AS n FROM certbus.events")[0].decode("n", as: Int.self) == 0)
    }
}
