import CertbusServices
import Foundation
import PKI
import Postgres

/// The audit sealer and verifier over many rows.
extension GrowthBenchmark {
    func measureAudit(_ c: Connection) throws -> AuditFigures {
        var figures = AuditFigures()
        figures.rows = auditRows
        log("audit: inserting \(auditRows) rows, 100,000 per statement")
        figures.insertSeconds = try BenchClock.time {
            var done = 0
            var next = 1_000_000
            while done < auditRows {
                let n = min(100_000, auditRows - done)
                try c.execute(
                    """
                    INSERT INTO certbus.audit_log (action, entity_type, entity_id, actor_type, actor_id, details)
                    SELECT 'RENEWAL_COMPLETED', 'Certificate', md5(g::text), 'SYSTEM', 'bench',
                           jsonb_build_object('serial', g, 'profile', 'web', 'notAfter', '2030-01-01T00:00:00Z')
                      FROM generate_series($1::bigint, $2::bigint) AS g
                    """, [done + 1, done + n])
                done += n
                if done >= next {
                    log("  \(done) rows")
                    next += 1_000_000
                }
            }
        }
        log("audit: VACUUM ANALYZE")
        try c.execute("VACUUM ANALYZE certbus.audit_log")
        try AuditBenchmark.waitUntilSealable(on: c)
        let sealer = AuditSealer()
        let head = try AuditSealer.head(on: c)
        figures.workListPlan = try explain(c, AuditSealer.workListSQL, [String(head.transactionId), head.logId, sealer.batchSize])
        log("audit: sealing")
        let sealCPU = try SessionCPU.start(c)
        figures.sealSeconds = try BenchClock.time { figures.sealedRows = try sealer.sealAvailable(on: c) }
        figures.sealCPUSeconds = try sealCPU.seconds(c)
        let key = try AuditSigningKey(privateKey: PrivateKey.generate(.ed25519))
        _ = try AuditCheckpointWriter(key: key).writeIfDue(on: c)
        _ = try sealer.sealAvailable(on: c)
        try c.execute("VACUUM ANALYZE certbus.audit_log")
        figures.walkPlan = try explain(c, AuditVerifier.walkSQL, ["0", 0, AuditVerifier().batchSize])
        log("audit: verifying")
        var report = AuditVerificationReport()
        let verifyCPU = try SessionCPU.start(c)
        figures.verifySeconds = try BenchClock.time { report = try AuditVerifier(trustedPublicKey: key.publicKey).verify(on: c) }
        figures.verifyCPUSeconds = try verifyCPU.seconds(c)
        guard report.valid else { throw BenchmarkError("the chain did not verify: \(report.problem?.description ?? "?")") }
        figures.verifiedRows = Int(report.rowsVerified)
        figures.tableBytes = try c.query("SELECT sum(pg_total_relation_size(inhrelid))::bigint AS v FROM pg_inherits WHERE inhparent = 'certbus.audit_log'::regclass")[0]
            .decode("v", as: Int.self)
        return figures
    }

    /// EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) of `sql` with `parameters`.
    func explain(_ c: Connection, _ sql: String, _ parameters: [any PostgresEncodable]) throws -> String {
        try c.query("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, parameters)
            .map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
    }
}
