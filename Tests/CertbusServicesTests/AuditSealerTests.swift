import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import CertbusServices

/// Sealing: order, the transaction-id watermark, checkpoints, a clean verification.
@Suite struct AuditSealerTests {
    @Test func sealsEveryCommittedRowInBatchesAndVerifies() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        #expect(try AuditVerifier().verify(on: c).valid)  // empty chain
        try AuditFixture.write(25, on: c)
        #expect(try AuditFixture.sealAll(on: c) == 25)
        #expect(try AuditFixture.sealAll(on: c) == 0)
        let positions = try c.query("SELECT chain_position FROM certbus.audit_log ORDER BY id").map {
            try $0.decode("chain_position", as: Int64.self)
        }
        #expect(positions == Array(1...25))
        let report = try AuditVerifier(batchSize: 4).verify(on: c)
        #expect(report.valid, "\(report)")
        #expect(report.rowsVerified == 25)
        #expect(report.firstPosition == 1 && report.lastPosition == 25)
        #expect(report.unsealedRows == 0)
        let head = try AuditSealer.head(on: c)
        #expect(report.headHash == AuditHex.encode(head.hash))
    }

    @Test func aLateCommitIsNeitherSkippedNorWaitedFor() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let slow = try db.connect(applicationName: "slow-writer")
        // The slow transaction writes first (lower id, lower txid) and commits last.
        try slow.execute("BEGIN")
        let slowId = try AuditTrail.record(
            on: slow, action: .issuanceInitiated, entityType: .certificate, entityId: "slow", actor: .system("worker"))
        let fastIds = try AuditFixture.write(3, on: c)
        #expect(fastIds.allSatisfy { $0 > slowId })
        // The sealer returns at once without sealing past the open transaction.
        let first = try AuditSealer().sealBatch(on: c)
        #expect(first.sealed == 0)
        #expect(try AuditSealer.unsealedCount(on: c) == 3)
        try slow.execute("COMMIT")
        #expect(try AuditFixture.sealAll(on: c) == 4)
        #expect(try AuditFixture.id(at: 1, on: c) == slowId)
        #expect(try AuditVerifier().verify(on: c).valid)
    }

    @Test func rowsBehindAnOpenUnrelatedWriterWaitButRowsBeforeItAreSealed() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let early = try AuditFixture.write(2, on: c)
        let other = try db.connect()
        try other.execute("BEGIN")
        try other.execute("SELECT pg_current_xact_id()")  // a writer that has taken a transaction id
        let late = try AuditFixture.write(2, on: c)
        let deadline = Date().addingTimeInterval(60)
        var sealed = 0
        while sealed < 2, Date() < deadline {
            sealed += try AuditSealer().sealAvailable(on: c)
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(sealed == 2)
        #expect(try AuditSealer().sealAvailable(on: c) == 0)
        #expect(try AuditFixture.id(at: 2, on: c) == early[1])
        try other.execute("ROLLBACK")
        #expect(try AuditFixture.sealAll(on: c) == 2)
        #expect(try AuditFixture.id(at: 4, on: c) == late[1])
    }

    @Test func rolledBackRowsLeaveNoGap() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try AuditFixture.write(2, on: c)
        struct Abort: Error {}
        _ = try? c.withTransaction { tx in
            try AuditFixture.write(3, on: tx)
            throw Abort()
        }
        try AuditFixture.write(2, on: c)
        #expect(try AuditFixture.sealAll(on: c) == 4)
        #expect(try c.query("SELECT max(chain_position) AS m FROM certbus.audit_log")[0].decode("m", as: Int64.self) == 4)
        #expect(try AuditVerifier().verify(on: c).valid)
    }

    @Test func checkpointsAreWrittenOnlyWhenSomethingNewWasSealed() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let writer = try AuditCheckpointWriter(key: AuditFixture.newKey())
        #expect(try writer.writeIfDue(on: c) == nil)  // empty chain
        try AuditFixture.write(5, on: c)
        try AuditFixture.sealAll(on: c)
        let first = try #require(try writer.writeIfDue(on: c))
        #expect(first.chainPosition == 5)
        #expect(first.hasValidSignature)
        #expect(try writer.writeIfDue(on: c) == nil)
        // The AUDIT_CHECKPOINT row gets sealed, but alone it does not call for another checkpoint.
        #expect(try AuditFixture.sealAll(on: c) == 1)
        #expect(try writer.writeIfDue(on: c) == nil)
        try AuditFixture.write(1, on: c)
        try AuditFixture.sealAll(on: c)
        let second = try #require(try writer.writeIfDue(on: c))
        #expect(second.chainPosition == 7)
        #expect(try AuditCheckpoint.latest(on: c) == second)
        let row = try c.query("SELECT action, entity_id FROM certbus.audit_log WHERE chain_position = 6")[0]
        #expect(try row.decode("action", as: String.self) == "AUDIT_CHECKPOINT")
        #expect(try row.decode("entity_id", as: String.self) == "5")
        try AuditFixture.sealAll(on: c)
        let report = try AuditVerifier(trustedPublicKey: writer.key.publicKey).verify(on: c)
        #expect(report.valid, "\(report)")
        #expect(report.checkpointsVerified == 2)
    }

    @Test func serviceSealsOnNotificationAndChecksLeadership() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        var options = AuditSealerService.Options()
        options.pollInterval = 30  // long: sealing must come from the notification
        options.checkpointInterval = 0
        options.retryInterval = 0.1
        options.log = .silent
        let key = try AuditFixture.newKey()
        let a = AuditSealerService(configuration: db.configuration(), signingKey: key, options: options)
        let b = AuditSealerService(configuration: db.configuration(), signingKey: key, options: options)
        try a.start()
        try b.start()
        defer {
            a.stop(grace: 10)
            b.stop(grace: 10)
        }
        let c = try db.connect()
        try AuditFixture.write(10, on: c)
        try waitUntil { try AuditSealer.unsealedCount(on: c) == 0 && AuditCheckpoint.latest(on: c) != nil }
        #expect([a.statistics.isLeader, b.statistics.isLeader].filter { $0 }.count == 1)
        #expect(a.statistics.sealed + b.statistics.sealed >= 10)
        #expect(try AuditVerifier(trustedPublicKey: key.publicKey).verify(on: c).valid)
    }
}

/// Polls `condition` every 50 ms for at most `seconds`; records an issue when it never holds.
func waitUntil(seconds: Double = 60, sourceLocation: SourceLocation = #_sourceLocation, _ condition: () throws -> Bool) throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return }
        Thread.sleep(forTimeInterval: 0.05)
    }
    Issue.record("condition not met within \(seconds) s", sourceLocation: sourceLocation)
}
