import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import CertbusServices

/// The database refuses every change to the log except the one-time seal.
@Suite struct AuditAppendOnlyTests {
    func expectRejected(_ c: Connection, _ sql: String, _ parameters: [any PostgresEncodable] = [], sqlState: String = "23001",
                        contains text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let error = #expect(throws: PostgresError.self, sourceLocation: sourceLocation) { try c.execute(sql, parameters) }
        #expect(error?.sqlState == sqlState, "\(error?.description ?? "")", sourceLocation: sourceLocation)
        #expect(error?.message.contains(text) == true, "\(error?.message ?? "")", sourceLocation: sourceLocation)
    }

    @Test func updateDeleteAndTruncateAreRejected() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let ids = try AuditFixture.write(3, on: c)
        expectRejected(c, "UPDATE certbus.audit_log SET details = '{\"x\": 1}' WHERE id = $1", [ids[0]],
                       contains: "append-only: UPDATE of row \(ids[0]) is not allowed")
        expectRejected(c, "UPDATE certbus.audit_log SET actor_id = 'mallory'", contains: "append-only: UPDATE")
        expectRejected(c, "DELETE FROM certbus.audit_log WHERE id = $1", [ids[1]],
                       contains: "append-only: DELETE of certbus.audit_log")
        expectRejected(c, "TRUNCATE certbus.audit_log", contains: "append-only: TRUNCATE of certbus.audit_log")
        // Each partition is guarded on its own too.
        let partition = try c.query(
            "SELECT tableoid::regclass::text AS p FROM certbus.audit_log WHERE id = $1", [ids[2]])[0].decode("p", as: String.self)
        expectRejected(c, "TRUNCATE \(partition)", contains: "append-only: TRUNCATE")
        expectRejected(c, "DELETE FROM \(partition)", contains: "append-only: DELETE")
        expectRejected(c, "TRUNCATE certbus.audit_log_default", contains: "append-only: TRUNCATE")
        #expect(try AuditFixture.count("SELECT count(*) AS n FROM certbus.audit_log WHERE details ? 'x' OR actor_id <> 'tester'", on: c) == 0)
        #expect(try AuditFixture.count("SELECT count(*) AS n FROM certbus.audit_log", on: c) == 3)
    }

    @Test func sealIsSetOnceAndOnlyTheSeal() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try AuditFixture.write(1, on: c)[0]
        let hash = Data(repeating: 7, count: 32)
        expectRejected(c, "UPDATE certbus.audit_log SET chain_position = 1, chain_hash = $2, action = 'CA_CREATED' WHERE id = $1",
                       [id, hash], contains: "append-only: UPDATE of row \(id)")
        expectRejected(c, "UPDATE certbus.audit_log SET chain_position = 1 WHERE id = $1", [id],
                       contains: "append-only: UPDATE of row \(id)")
        expectRejected(c, "UPDATE certbus.audit_log SET chain_position = 0, chain_hash = $2 WHERE id = $1", [id, hash],
                       contains: "append-only: UPDATE of row \(id)")
        expectRejected(c, "UPDATE certbus.audit_log SET chain_position = 1, chain_hash = $2 WHERE id = $1",
                       [id, Data(repeating: 7, count: 31)], contains: "append-only: UPDATE of row \(id)")
        #expect(try c.execute("UPDATE certbus.audit_log SET chain_position = 1, chain_hash = $2 WHERE id = $1", [id, hash]) == 1)
        expectRejected(c, "UPDATE certbus.audit_log SET chain_position = 2, chain_hash = $2 WHERE id = $1", [id, hash],
                       contains: "audit row \(id) is already sealed at chain position 1")
        expectRejected(c, "UPDATE certbus.audit_log SET chain_hash = $2 WHERE id = $1", [id, Data(repeating: 8, count: 32)],
                       contains: "already sealed")
        let row = try c.query("SELECT chain_position, chain_hash FROM certbus.audit_log WHERE id = $1", [id])[0]
        #expect(try row.decode("chain_position", as: Int64.self) == 1)
        #expect(try row.decode("chain_hash", as: Data.self) == hash)
    }

    @Test func insertsCannotForgeSealsTimesOrTransactions() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        expectRejected(
            c,
            """
            INSERT INTO certbus.audit_log (action, entity_type, entity_id, actor_type, actor_id, chain_position, chain_hash)
            VALUES ('CA_CREATED', 'CA', 'x', 'USER', 'u', 1, $1)
            """, [Data(repeating: 1, count: 32)], sqlState: "23514", contains: "inserted unsealed")
        expectRejected(
            c,
            """
            INSERT INTO certbus.audit_log (action, entity_type, entity_id, actor_type, actor_id, occurred_at)
            VALUES ('CA_CREATED', 'CA', 'x', 'USER', 'u', now() - interval '1 day')
            """, sqlState: "23514", contains: "occurred_at is set by the database")
        // A supplied txid is replaced by the real one.
        let txid = try c.withTransaction { tx -> (UInt64, UInt64) in
            let stored = try tx.query(
                """
                INSERT INTO certbus.audit_log (action, entity_type, entity_id, actor_type, actor_id, txid)
                VALUES ('CA_CREATED', 'CA', 'x', 'USER', 'u', '3') RETURNING txid::text AS t
                """)[0].decode("t", as: String.self)
            let current = try tx.query("SELECT pg_current_xact_id()::text AS t")[0].decode("t", as: String.self)
            return (UInt64(stored) ?? 0, UInt64(current) ?? 1)
        }
        #expect(txid.0 == txid.1)
        #expect(try AuditFixture.count("SELECT count(*) AS n FROM certbus.audit_log", on: c) == 1)
    }

    @Test func serviceRoleMayOnlyInsertReadAndSeal() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try AuditFixture.write(1, on: c)[0]
        try c.execute("SET ROLE certbus_service")
        #expect(try AuditTrail.record(on: c, action: .caCreated, entityType: .ca, entityId: "x", actor: .system("worker")) > id)
        #expect(try AuditFixture.count("SELECT count(*) AS n FROM certbus.audit_log", on: c) == 2)
        let partition = try c.query(
            "SELECT tableoid::regclass::text AS p FROM certbus.audit_log WHERE id = $1", [id])[0].decode("p", as: String.self)
        for sql in ["UPDATE certbus.audit_log SET details = '{}'", "DELETE FROM certbus.audit_log",
                    "TRUNCATE certbus.audit_log", "UPDATE \(partition) SET details = '{}'", "DELETE FROM \(partition)",
                    "TRUNCATE \(partition)", "INSERT INTO certbus.audit_actions VALUES ('MY_ACTION', 'x')",
                    "DELETE FROM certbus.audit_actions", "UPDATE certbus.audit_checkpoints SET chain_position = 1",
                    "DELETE FROM certbus.audit_checkpoints"] {
            expectRejected(c, sql, sqlState: "42501", contains: "permission denied")
        }
        // The seal columns are the one thing it may update (the trigger still allows it only once).
        #expect(try c.execute("UPDATE certbus.audit_log SET chain_position = 1, chain_hash = $2 WHERE id = $1",
                              [id, Data(repeating: 1, count: 32)]) == 1)
        try c.execute("RESET ROLE")
        try c.execute("SET ROLE certbus_auditor")
        #expect(try AuditFixture.count("SELECT count(*) AS n FROM certbus.audit_log", on: c) == 2)
        #expect(try AuditFixture.count("SELECT count(*) AS n FROM certbus.audit_checkpoints", on: c) == 0)
        expectRejected(c, "INSERT INTO certbus.audit_log (action, entity_type, entity_id, actor_type, actor_id) VALUES ('CA_CREATED', 'CA', 'x', 'USER', 'u')",
                       sqlState: "42501", contains: "permission denied")
        try c.execute("RESET ROLE")
    }

    @Test func newPartitionsGetTheSameGuardsAndGrants() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let before = try AuditFixture.count(
            "SELECT count(*) AS n FROM pg_inherits WHERE inhparent = 'certbus.audit_log'::regclass", on: c)
        let created = try c.query("SELECT certbus.audit_ensure_partitions(6) AS n")[0].decode("n", as: Int.self)
        #expect(created == 3)
        #expect(try c.query("SELECT certbus.audit_ensure_partitions(6) AS n")[0].decode("n", as: Int.self) == 0)
        let partitions = try c.query(
            """
            SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'certbus.audit_log'::regclass ORDER BY 1
            """).map { try $0.decode("name", as: String.self) }
        #expect(Int64(partitions.count) == before + 3)
        for name in partitions {
            #expect(try AuditFixture.count(
                "SELECT count(*) AS n FROM pg_trigger WHERE tgrelid = ('certbus.' || $1)::regclass AND tgname = 'audit_log_reject_truncate'",
                on: c, [name]) == 1, "\(name)")
            #expect(try c.query("SELECT has_table_privilege('certbus_service', 'certbus.' || $1, 'DELETE') AS d", [name])[0]
                .decode("d", as: Bool.self) == false, "\(name)")
            #expect(try c.query("SELECT has_table_privilege('certbus_auditor', 'certbus.' || $1, 'SELECT') AS s", [name])[0]
                .decode("s", as: Bool.self), "\(name)")
            // Room on each page so sealing is a HOT update.
            #expect(try c.query("SELECT reloptions::text AS o FROM pg_class WHERE oid = ('certbus.' || $1)::regclass", [name])[0]
                .decode("o", as: String?.self) == "{fillfactor=50}", "\(name)")
        }
        let bad = #expect(throws: PostgresError.self) { try c.execute("SELECT certbus.audit_ensure_partitions(-1)") }
        #expect(bad?.sqlState == "22023")
    }
}

extension AuditAppendOnlyTests {
    @Test func definerFunctionsAreNotForEveryone() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        for (role, allowed) in [("certbus_service", true), ("certbus_reporter", false), ("certbus_agent", false)] {
            #expect(try c.query("SELECT has_function_privilege($1, 'certbus.audit_ensure_partitions(integer)', 'EXECUTE') AS x", [role])[0]
                .decode("x", as: Bool.self) == allowed, "\(role)")
        }
    }
}
