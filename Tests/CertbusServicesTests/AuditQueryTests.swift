import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import CertbusServices

/// `audit list` filters and `audit show` details.
@Suite struct AuditQueryTests {
    func populated() throws -> (TestDatabase, Connection) {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try AuditTrail.record(on: c, action: .caCreated, entityType: .ca, entityId: "ca-1", actor: .user("alice"), details: ["name": "root"])
        try AuditTrail.record(on: c, action: .issuanceInitiated, entityType: .certificate, entityId: "c-1", actor: .user("bob"))
        try AuditTrail.record(on: c, action: .issuanceCompleted, entityType: .certificate, entityId: "c-1", actor: .system("worker"), details: ["serial": "0a"])
        try AuditTrail.record(on: c, action: .issuanceInitiated, entityType: .certificate, entityId: "c-2", actor: .agent("bob"))
        return (db, c)
    }

    @Test func filtersCombineAndNewestComesFirst() throws {
        let (db, c) = try populated()
        defer { db.drop() }
        func ids(_ filter: AuditFilter) throws -> [String] {
            try AuditQuery.list(on: c, filter).map { "\($0.action) \($0.entityId)" }
        }
        #expect(try ids(AuditFilter()) == [
            "ISSUANCE_INITIATED c-2", "ISSUANCE_COMPLETED c-1", "ISSUANCE_INITIATED c-1", "CA_CREATED ca-1",
        ])
        #expect(try ids(AuditFilter(entityType: "Certificate", entityId: "c-1")) == ["ISSUANCE_COMPLETED c-1", "ISSUANCE_INITIATED c-1"])
        #expect(try ids(AuditFilter(entityId: "c-1")).count == 2)
        #expect(try ids(AuditFilter(entityType: "CA")) == ["CA_CREATED ca-1"])
        #expect(try ids(AuditFilter(action: "ISSUANCE_INITIATED")) == ["ISSUANCE_INITIATED c-2", "ISSUANCE_INITIATED c-1"])
        #expect(try ids(AuditFilter(actor: "bob")) == ["ISSUANCE_INITIATED c-2", "ISSUANCE_INITIATED c-1"])
        #expect(try ids(AuditFilter(actor: "USER:bob")) == ["ISSUANCE_INITIATED c-1"])
        #expect(try ids(AuditFilter(actor: "agent:bob")) == ["ISSUANCE_INITIATED c-2"])
        #expect(try ids(AuditFilter(since: Date().addingTimeInterval(-3600))).count == 4)
        #expect(try ids(AuditFilter(since: Date().addingTimeInterval(3600))).isEmpty)
        #expect(try ids(AuditFilter(limit: 2)) == ["ISSUANCE_INITIATED c-2", "ISSUANCE_COMPLETED c-1"])
        let page = try AuditQuery.list(on: c, AuditFilter(limit: 2))
        #expect(try ids(AuditFilter(beforeId: page.last!.id, limit: 2)) == ["ISSUANCE_INITIATED c-1", "CA_CREATED ca-1"])
    }

    @Test func badFiltersAreExplained() throws {
        let (db, c) = try populated()
        defer { db.drop() }
        let unknown = #expect(throws: AuditError.self) { try AuditQuery.list(on: c, AuditFilter(action: "ISSUANCE_DONE")) }
        #expect(unknown?.message.contains("unknown audit action 'ISSUANCE_DONE'") == true)
        #expect(unknown?.message.contains("ISSUANCE_COMPLETED") == true)
        #expect(throws: AuditError.self) { try AuditQuery.list(on: c, AuditFilter(limit: 0)) }
        #expect(throws: AuditError.self) { try AuditQuery.list(on: c, AuditFilter(limit: 10_001)) }
        #expect(throws: AuditError.self) { try AuditQuery.list(on: c, AuditFilter(actor: "USER:")) }
        // A colon that is not a type prefix is part of the id.
        #expect(try AuditQuery.list(on: c, AuditFilter(actor: "svc:x")).isEmpty)
    }

    @Test func showGivesTheDetailView() throws {
        let (db, c) = try populated()
        defer { db.drop() }
        let id = try AuditQuery.list(on: c, AuditFilter(action: "ISSUANCE_COMPLETED"))[0].id
        var detail = try #require(try AuditQuery.show(on: c, id: id))
        #expect(detail.entry.actor == .system("worker"))
        #expect(detail.entry.entityType == "Certificate" && detail.entry.entityId == "c-1")
        #expect(detail.entry.detailsJSON == #"{"serial": "0a"}"#)
        #expect(detail.actionDescription == "A certificate was issued and stored.")
        #expect(detail.entityEntryCount == 2)
        #expect(!detail.entry.isSealed && detail.coveringCheckpoint == nil)
        try AuditFixture.sealAll(on: c)
        let checkpoint = try #require(try AuditCheckpointWriter(key: AuditFixture.newKey()).writeIfDue(on: c))
        detail = try #require(try AuditQuery.show(on: c, id: id))
        #expect(detail.entry.chainPosition == 3)
        #expect(detail.coveringCheckpoint?.id == checkpoint.id)
        #expect(try AuditQuery.show(on: c, id: 9_999) == nil)
    }

    @Test func listQueriesUseIndexes() throws {
        let (db, c) = try populated()
        defer { db.drop() }
        try c.execute("SET enable_seqscan = off")  // tiny table: make the planner show what it can use
        for (sql, index) in [
            ("entity_id = 'c-1'", "_entity_id_id_idx"), ("entity_type = 'CA'", "_entity_type_id_idx"),
            ("action = 'CA_CREATED'", "_action_id_idx"), ("actor_id = 'bob'", "_actor_id_id_idx"),
        ] {
            let plan = try c.query("EXPLAIN SELECT id FROM certbus.audit_log WHERE \(sql) ORDER BY id DESC LIMIT 50")
                .map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
            // Partition indexes are named after their columns (audit_log_y2026m11_entity_id_id_idx).
            #expect(plan.contains(index), "\(sql):\n\(plan)")
        }
    }
}
