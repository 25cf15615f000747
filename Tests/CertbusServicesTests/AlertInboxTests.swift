import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Listing, marking read (one by one and in bulk), and the live watch.
@Suite struct AlertInboxTests {
    let alice = Actor.user("alice")

    func seed(_ c: Connection) throws -> [Int64] {
        [
            try Alerts.raise(on: c, type: .error, severity: .error, title: "Job 1 failed", message: "m", entity: .job, entityId: "1", causeKey: "job:1"),
            try Alerts.raise(on: c, type: .warn, severity: .warn, title: "Agent a offline", message: "m", entity: .agent, entityId: "a", causeKey: "agent-offline:a"),
            try Alerts.raise(on: c, type: .expiringSoon, severity: .warn, title: "Cert expires", message: "m", entity: .certificate, entityId: "c", causeKey: "expiry:c:30d"),
            try Alerts.raise(on: c, type: .expiringSoon, severity: .error, title: "Cert expires tomorrow", message: "m", entity: .certificate, entityId: "d", causeKey: "expiry:d:1d"),
        ]
    }

    @Test func listFilters() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let ids = try seed(c)
        #expect(try AlertInbox.list(on: c).map(\.id) == ids.reversed())
        #expect(try AlertInbox.list(on: c, AlertFilter(severity: .error)).map(\.id) == [ids[3], ids[0]])
        #expect(try AlertInbox.list(on: c, AlertFilter(type: .expiringSoon)).map(\.id) == [ids[3], ids[2]])
        #expect(try AlertInbox.list(on: c, AlertFilter(severity: .error, type: .expiringSoon)).map(\.id) == [ids[3]])
        #expect(try AlertInbox.list(on: c, AlertFilter(entityType: .agent)).map(\.title) == ["Agent a offline"])
        #expect(try AlertInbox.list(on: c, AlertFilter(limit: 2)).count == 2)
        #expect(throws: AlertError.self) { try AlertInbox.list(on: c, AlertFilter(limit: 0)) }
        #expect(throws: AlertError.self) { try AlertInbox.find(on: c, id: 999) }
    }

    @Test func markReadByIdAndInBulk() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let ids = try seed(c)
        #expect(try AlertInbox.markRead(on: c, ids: [ids[0], ids[0]], actor: alice) == 1)
        #expect(try AlertInbox.markRead(on: c, ids: [ids[0]], actor: alice) == 0)  // already read
        let read = try AlertInbox.find(on: c, id: ids[0])
        #expect(read.readBy == "alice" && read.readAt != nil && read.isOpen)
        // An unknown id refuses the whole request.
        #expect(throws: AlertError.self) { try AlertInbox.markRead(on: c, ids: [ids[1], 424242], actor: alice) }
        #expect(try AlertInbox.find(on: c, id: ids[1]).isUnread)
        #expect(throws: AlertError.self) { try AlertInbox.markRead(on: c, ids: [], actor: alice) }

        #expect(try AlertInbox.markAllRead(on: c, AlertFilter(type: .expiringSoon), actor: alice) == 2)
        #expect(try AlertInbox.list(on: c, AlertFilter(unreadOnly: true)).map(\.id) == [ids[1]])
        #expect(try AlertInbox.markAllRead(on: c, actor: alice) == 1)
        #expect(try AlertInbox.markAllRead(on: c, actor: alice) == 0)
        #expect(try AlertInbox.list(on: c, AlertFilter(unreadOnly: true)).isEmpty)
        let audit = try c.query("SELECT entity_id, details::text AS d FROM certbus.audit_log WHERE action = 'ALERT_READ' ORDER BY id")
        #expect(try audit.map { try $0.decode("entity_id", as: String.self) } == [String(ids[0]), "bulk", "bulk"])
        #expect(try audit[1].decode("d", as: String.self).contains("EXPIRING_SOON"))
    }

    @Test func watchSeesNewReadAndResolvedAlerts() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let watcher = try db.connect()
        let other = try db.connect()
        let ids = try seed(other)
        let watch = AlertWatch(connection: watcher, filter: AlertFilter(severity: .error))
        #expect(try watch.start().map(\.id) == [ids[3], ids[0]])

        func waitFor(_ count: Int) throws -> [AlertWatch.Change] {
            var changes: [AlertWatch.Change] = []
            let deadline = Date().addingTimeInterval(10)
            while changes.count < count, Date() < deadline { changes += try watch.next(timeout: 0.5) }
            return changes
        }
        let new = try Alerts.raise(on: other, type: .error, severity: .error, title: "Renewal failed", message: "m",
                                   entity: .certificate, entityId: "e", causeKey: "renewal:e")
        _ = try Alerts.raise(on: other, type: .warn, severity: .warn, title: "filtered out", message: "m",
                             entity: .agent, entityId: "b", causeKey: "agent-offline:b")
        let raised = try waitFor(1)
        #expect(raised.map(\.alert.id) == [new])
        #expect(raised.first.map { if case .raised = $0 { true } else { false } } == true)

        try AlertInbox.markRead(on: other, ids: [new], actor: alice)
        #expect(try waitFor(1).first == .read(try AlertInbox.find(on: other, id: new)))
        try Alerts.resolve(on: other, causeKeyPrefix: "renewal:e", resolution: "renewed")
        #expect(try waitFor(1).first == .resolved(try AlertInbox.find(on: other, id: new)))
    }
}
