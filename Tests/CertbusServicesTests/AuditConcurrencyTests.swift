import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import CertbusServices

/// Many writers in overlapping transactions (some slow to commit, some rolling
/// back) while two sealer services run: every committed row ends up sealed,
/// positions have no gap, and the chain verifies.
@Suite struct AuditConcurrencyTests {
    @Test func writersAndSealersTogether() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        var options = AuditSealerService.Options()
        options.batchSize = 50
        options.pollInterval = 0.5
        options.checkpointInterval = 0.2
        options.retryInterval = 0.1
        options.log = .silent
        let key = try AuditFixture.newKey()
        let sealers = (0..<2).map { _ in
            AuditSealerService(configuration: db.configuration(), signingKey: key, options: options)
        }
        for sealer in sealers { try sealer.start() }
        defer { for sealer in sealers { sealer.stop(grace: 10) } }

        let writers = 8, transactionsEach = 25
        let committed = LockedCounter()
        let failures = LockedCounter()
        DispatchQueue.concurrentPerform(iterations: writers) { w in
            do {
                let c = try db.connect(applicationName: "writer-\(w)")
                defer { c.close() }
                var generator = SystemRandomNumberGenerator()
                for t in 0..<transactionsEach {
                    let rows = Int.random(in: 1...3, using: &generator)
                    let rollBack = t % 5 == 3
                    let slow = t % 7 == 2
                    try c.execute("BEGIN")
                    for r in 0..<rows {
                        try AuditTrail.record(
                            on: c, action: .jobEnqueued, entityType: .job, entityId: "\(w)-\(t)-\(r)",
                            actor: .agent("writer-\(w)"), details: ["writer": w, "transaction": t, "row": r])
                        if slow { Thread.sleep(forTimeInterval: 0.03) }  // holds its txid while others commit
                    }
                    if rollBack {
                        try c.execute("ROLLBACK")
                    } else {
                        try c.execute("COMMIT")
                        committed.add(rows)
                    }
                }
            } catch {
                failures.add(1)
                Issue.record("writer \(w): \(error)")
            }
        }
        #expect(failures.value == 0)
        let c = try db.connect()
        // Every committed row sealed, and a checkpoint covering the last of them.
        try waitUntil(seconds: 120) {
            let row = try c.query(
                """
                SELECT count(*) FILTER (WHERE chain_position IS NULL) AS unsealed,
                       coalesce(max(chain_position), 0) AS last FROM certbus.audit_log WHERE action = 'JOB_ENQUEUED'
                """)[0]
            let last = try row.decode("last", as: Int64.self)
            return try row.decode("unsealed", as: Int64.self) == 0 && last > 0
                && AuditCheckpoint.latest(on: c)?.chainPosition ?? 0 >= last
        }
        #expect(sealers.filter { $0.statistics.isLeader }.count == 1)
        for sealer in sealers { sealer.stop(grace: 10) }
        let stats = try c.query(
            """
            SELECT count(*) FILTER (WHERE action = 'JOB_ENQUEUED') AS written,
                   count(*) FILTER (WHERE chain_position IS NOT NULL) AS sealed,
                   count(DISTINCT chain_position) AS distinct_positions, min(chain_position) AS first,
                   max(chain_position) AS last,
                   count(*) FILTER (WHERE chain_position IS NULL AND action <> 'AUDIT_CHECKPOINT') AS unsealed
              FROM certbus.audit_log
            """)[0]
        let sealed = try stats.decode("sealed", as: Int64.self)
        #expect(try stats.decode("written", as: Int64.self) == Int64(committed.value))
        #expect(try stats.decode("unsealed", as: Int64.self) == 0)  // at most the newest checkpoint row waits
        #expect(try stats.decode("first", as: Int64.self) == 1)
        #expect(try stats.decode("last", as: Int64.self) == sealed)  // no gap
        #expect(try stats.decode("distinct_positions", as: Int64.self) == sealed)  // no duplicate
        let report = try AuditVerifier(trustedPublicKey: key.publicKey).verify(on: c)
        #expect(report.valid, "\(report)")
        #expect(report.rowsVerified == sealed)
        #expect(report.checkpointsVerified >= 1)
    }
}

/// A thread-safe counter for tests.
final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add(_ n: Int) {
        lock.lock()
        count += n
        lock.unlock()
    }
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}
