import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import CertbusServices

/// A superuser who bypasses the triggers (session_replication_role = replica)
/// edits, deletes, inserts, reorders or rewrites; `verify` names the first bad row.
@Suite struct AuditTamperTests {
    /// A database with `rows` sealed rows and a checkpoint at the head.
    func sealedLog(_ rows: Int = 10) throws -> (TestDatabase, Connection, AuditSigningKey) {
        let db = try TestDatabase.create()
        let c = try db.connect()
        try AuditFixture.write(rows, on: c)
        try AuditFixture.sealAll(on: c)
        let key = try AuditFixture.newKey()
        return (db, c, key)
    }

    func verify(_ c: Connection, key: AuditSigningKey? = nil, file: AuditCheckpoint? = nil) throws -> AuditProblem? {
        try AuditVerifier(exportedCheckpoint: file, trustedPublicKey: key?.publicKey, batchSize: 3).verify(on: c).problem
    }

    @Test func editedRowIsNamed() throws {
        let (db, c, _) = try sealedLog()
        defer { db.drop() }
        let victim = try AuditFixture.id(at: 4, on: c)
        let t = try AuditFixture.tamperer(db)
        #expect(try t.execute("UPDATE certbus.audit_log SET details = '{\"n\": 99}' WHERE id = $1", [victim]) == 1)
        let problem = try #require(try verify(c))
        #expect(problem.kind == .rowMismatch)
        #expect(problem.rowId == victim)
        #expect(problem.chainPosition == 4)
    }

    @Test func editsOfEachCoveredColumnAreDetected() throws {
        let (db, c, _) = try sealedLog(3)
        defer { db.drop() }
        let victim = try AuditFixture.id(at: 2, on: c)
        let t = try AuditFixture.tamperer(db)
        let edits = [
            "occurred_at = occurred_at + interval '1 microsecond'", "action = 'CA_CREATED'", "entity_type = 'CA'",
            "entity_id = 'other'", "actor_type = 'SYSTEM'", "actor_id = 'mallory'", "txid = '1'",
        ]
        for edit in edits {
            try t.execute("BEGIN")
            try t.execute("UPDATE certbus.audit_log SET \(edit) WHERE id = $1", [victim])
            // Seen from the tamperer's own (uncommitted) transaction.
            let problem = try AuditVerifier().verify(on: t).problem
            #expect(problem?.rowId == victim, "\(edit)")
            // Editing txid moves the row in chain order; everything else breaks its hash.
            #expect(problem?.kind == (edit.hasPrefix("txid") ? .positionMismatch : .rowMismatch), "\(edit)")
            try t.execute("ROLLBACK")
        }
        #expect(try verify(c) == nil)
    }

    @Test func deletedRowIsNamed() throws {
        let (db, c, _) = try sealedLog()
        defer { db.drop() }
        let next = try AuditFixture.id(at: 5, on: c)
        let t = try AuditFixture.tamperer(db)
        #expect(try t.execute("DELETE FROM certbus.audit_log WHERE chain_position = 4") == 1)
        let problem = try #require(try verify(c))
        #expect(problem.kind == .positionMissing)
        #expect(problem.chainPosition == 4)
        #expect(problem.rowId == next)
    }

    @Test func removedSealIsAMissingPosition() throws {
        let (db, c, _) = try sealedLog()
        defer { db.drop() }
        let victim = try AuditFixture.id(at: 6, on: c)
        let t = try AuditFixture.tamperer(db)
        try t.execute("UPDATE certbus.audit_log SET chain_position = NULL, chain_hash = NULL WHERE chain_position = 6")
        let problem = try #require(try verify(c))
        #expect(problem.kind == .positionMissing)
        #expect(problem.chainPosition == 6)
        #expect(problem.rowId == victim)
    }

    @Test func insertedRowIsNamed() throws {
        let (db, c, _) = try sealedLog()
        defer { db.drop() }
        let t = try AuditFixture.tamperer(db)
        let hash = try c.query("SELECT chain_hash FROM certbus.audit_log WHERE chain_position = 4")[0].decode("chain_hash", as: Data.self)
        // A forged row claiming position 4, with the genuine row's hash.
        let forged = try t.query(
            """
            INSERT INTO certbus.audit_log (action, entity_type, entity_id, actor_type, actor_id, chain_position, chain_hash)
            VALUES ('CONFIG_CHANGED', 'Config', 'forged', 'USER', 'tester', 4, $1) RETURNING id
            """, [hash])[0].decode("id", as: Int64.self)
        let problem = try #require(try verify(c))
        #expect(problem.kind == .positionDuplicated)
        #expect(problem.rowId == forged)
        #expect(problem.chainPosition == 4)

        // Forged with a lower id than the genuine row: it comes first and does not match.
        let db2 = try sealedLog()
        defer { db2.0.drop() }
        let t2 = try AuditFixture.tamperer(db2.0)
        let forged2 = try t2.query(
            """
            INSERT INTO certbus.audit_log (id, action, entity_type, entity_id, actor_type, actor_id, chain_position, chain_hash)
            OVERRIDING SYSTEM VALUE VALUES (0, 'CONFIG_CHANGED', 'Config', 'forged', 'USER', 'tester', 4, $1) RETURNING id
            """, [hash])[0].decode("id", as: Int64.self)
        let problem2 = try #require(try verify(db2.1))
        #expect(problem2.kind == .positionDuplicated)
        #expect(problem2.rowId == forged2)

        // Forged into the chain order itself (another row's txid, a lower id): its hash does not match.
        let db3 = try sealedLog()
        defer { db3.0.drop() }
        let t3 = try AuditFixture.tamperer(db3.0)
        let genuine = try AuditFixture.id(at: 4, on: db3.1)
        let forged3 = try t3.query(
            """
            INSERT INTO certbus.audit_log (id, action, entity_type, entity_id, actor_type, actor_id, txid, chain_position, chain_hash)
            OVERRIDING SYSTEM VALUE
            SELECT id - 1000000, action, entity_type, 'forged', actor_type, actor_id, txid, 4, chain_hash
              FROM certbus.audit_log WHERE id = $1 RETURNING id
            """, [genuine])[0].decode("id", as: Int64.self)
        let problem3 = try #require(try verify(db3.1))
        #expect(problem3.kind == .rowMismatch)
        #expect(problem3.rowId == forged3)
        #expect(problem3.chainPosition == 4)
    }

    @Test func reorderedRowsAreNamed() throws {
        let (db, c, _) = try sealedLog()
        defer { db.drop() }
        let third = try AuditFixture.id(at: 3, on: c)
        let sixth = try AuditFixture.id(at: 6, on: c)
        let t = try AuditFixture.tamperer(db)
        // Swap the two rows' places in the chain, each keeping its own hash.
        #expect(try t.execute(
            "UPDATE certbus.audit_log SET chain_position = CASE WHEN id = $1 THEN 6 ELSE 3 END WHERE id IN ($1, $2)",
            [third, sixth]) == 2)
        let problem = try #require(try verify(c))
        #expect(problem.kind == .positionMismatch)
        #expect(problem.rowId == third)  // third in chain order, but labelled 6
        #expect(problem.chainPosition == 3)
    }

    @Test func tamperedCheckpointSignatureIsNamed() throws {
        let (db, c, key) = try sealedLog()
        defer { db.drop() }
        let checkpoint = try #require(try AuditCheckpointWriter(key: key).writeIfDue(on: c))
        try AuditFixture.sealAll(on: c)
        #expect(try verify(c, key: key) == nil)
        let t = try AuditFixture.tamperer(db)
        try t.execute("BEGIN")
        try t.execute("UPDATE certbus.audit_checkpoints SET signature = set_byte(signature, 4, get_byte(signature, 4) # 1)")
        var problem = try #require(try AuditVerifier(trustedPublicKey: key.publicKey).verify(on: t).problem)
        #expect(problem.kind == .checkpointSignatureInvalid)
        #expect(problem.checkpointId == checkpoint.id)
        try t.execute("ROLLBACK")
        // Moving a checkpoint to another position breaks its signature too.
        try t.execute("UPDATE certbus.audit_checkpoints SET chain_position = 9")
        problem = try #require(try verify(c, key: key))
        #expect(problem.kind == .checkpointSignatureInvalid)
    }

    @Test func deletedTailIsCaughtByACheckpoint() throws {
        let (db, c, key) = try sealedLog()
        defer { db.drop() }
        let writer = AuditCheckpointWriter(key: key)
        try #require(try writer.writeIfDue(on: c) != nil)
        let t = try AuditFixture.tamperer(db)
        try t.execute("DELETE FROM certbus.audit_log WHERE chain_position >= 9")  // rows 9, 10 and the checkpoint row
        let problem = try #require(try verify(c, key: key))
        #expect(problem.kind == .chainTruncated)
        #expect(problem.chainPosition == 9)
    }

    /// The attacker rewrites history from row 3 on and recomputes every hash (the
    /// algorithm is public), and removes the stored checkpoints they cannot re-sign.
    func rewrite(_ db: TestDatabase, _ c: Connection, from position: Int64) throws {
        let t = try AuditFixture.tamperer(db)
        try t.execute("UPDATE certbus.audit_log SET details = '{\"n\": 42}' WHERE chain_position = $1", [position])
        var previous = try position == 1 ? AuditChain.genesisHash : t.query(
            "SELECT chain_hash FROM certbus.audit_log WHERE chain_position = $1", [position - 1])[0].decode("chain_hash", as: Data.self)
        let rows = try t.query(
            "SELECT \(AuditRow.selectList) FROM certbus.audit_log WHERE chain_position >= $1 ORDER BY chain_position", [position]
        ).map { try AuditRow(row: $0) }
        for row in rows {
            previous = AuditChain.hash(previous: previous, row: row, position: row.chainPosition!)
            try t.execute("UPDATE certbus.audit_log SET chain_hash = $1 WHERE id = $2", [previous, row.id])
        }
    }

    @Test func rewrittenChainIsCaughtByStoredOrExportedCheckpoints() throws {
        let (db, c, key) = try sealedLog()
        defer { db.drop() }
        let exported = try #require(try AuditCheckpointWriter(key: key).writeIfDue(on: c))
        let file = try JSONDecoder().decode(AuditCheckpoint.self, from: exported.exportJSON())
        try AuditFixture.sealAll(on: c)
        #expect(try verify(c, key: key, file: file) == nil)
        try rewrite(db, c, from: 3)
        // The stored checkpoint no longer matches.
        var problem = try #require(try verify(c, key: key))
        #expect(problem.kind == .checkpointMismatch)
        #expect(problem.chainPosition == 10)
        #expect(problem.checkpointId == exported.id)
        // Without the stored checkpoints the chain looks consistent...
        let t = try AuditFixture.tamperer(db)
        try t.execute("DELETE FROM certbus.audit_checkpoints")
        #expect(try verify(c, key: key) == nil)
        // ...but not against the checkpoint exported before.
        problem = try #require(try verify(c, key: key, file: file))
        #expect(problem.kind == .checkpointMismatch)
        #expect(problem.chainPosition == 10)
        #expect(problem.rowId == (try AuditFixture.id(at: 10, on: c)))
    }

    @Test func checkpointsReSignedWithAnotherKeyAreRefused() throws {
        let (db, c, key) = try sealedLog()
        defer { db.drop() }
        let mallory = try AuditFixture.newKey()
        try #require(try AuditCheckpointWriter(key: mallory).writeIfDue(on: c) != nil)
        try AuditFixture.sealAll(on: c)
        let problem = try #require(try verify(c, key: key))
        #expect(problem.kind == .checkpointUntrustedKey)
        // Without a trusted key the stored key is used, and the report says so.
        let report = try AuditVerifier().verify(on: c)
        #expect(report.valid)
        #expect(report.notes.contains { $0.contains("no trusted key") })
    }

    @Test func archivedHistoryVerifiesFromTheExportedCheckpoint() throws {
        let (db, c, key) = try sealedLog()
        defer { db.drop() }
        let boundary = try #require(try AuditCheckpointWriter(key: key).writeIfDue(on: c))
        try AuditFixture.write(4, on: c)
        try AuditFixture.sealAll(on: c)
        // The owner archives and drops rows 1-10 (as dropping a partition would).
        let t = try AuditFixture.tamperer(db)
        try t.execute("DELETE FROM certbus.audit_log WHERE chain_position <= 10")
        let strict = try #require(try verify(c, key: key))
        #expect(strict.kind == .startMissing)
        #expect(strict.chainPosition == 11)
        let report = try AuditVerifier(exportedCheckpoint: boundary, trustedPublicKey: key.publicKey).verify(on: c)
        #expect(report.valid, "\(report)")
        #expect(report.firstPosition == 11)
        #expect(report.rowsVerified == 5)
        #expect(report.startedFrom == "checkpoint at position 10")
        // A row deleted right after the boundary is still caught.
        try t.execute("DELETE FROM certbus.audit_log WHERE chain_position = 11")
        let problem = try #require(try verify(c, key: key, file: boundary))
        #expect(problem.kind == .positionMissing)
        #expect(problem.chainPosition == 11)
    }
}
