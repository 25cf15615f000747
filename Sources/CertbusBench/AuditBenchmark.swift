import CertbusCore
import CertbusServices
import Foundation
import PKI
import Postgres

/// `certbus bench audit`: the cost of auditing a lifecycle transaction, the
/// sealing rate and the verification rate, measured in a throwaway database
/// (audit rows cannot be deleted, so the benchmark never writes into a real log).
public struct AuditBenchmark: Sendable {
    /// Lifecycle-like transactions timed with and without audit rows.
    public var transactions: Int
    /// Rows inserted, then sealed and verified.
    public var rows: Int
    /// Rows per seal batch.
    public var batchSize: Int

    public init(transactions: Int = 2000, rows: Int = 200_000, batchSize: Int = 5000) {
        self.transactions = transactions
        self.rows = rows
        self.batchSize = batchSize
    }

    /// What was measured.
    public struct Result: Sendable, Codable, Equatable {
        public var transactions: Int
        /// Mean duration of the lifecycle transaction without and with its two audit rows, microseconds.
        public var baselineMicroseconds: Double
        public var auditedMicroseconds: Double
        public var overheadMicroseconds: Double { auditedMicroseconds - baselineMicroseconds }
        public var overheadPercent: Double { baselineMicroseconds > 0 ? overheadMicroseconds / baselineMicroseconds * 100 : 0 }
        /// The same in CPU time (certbus + backend) per transaction, microseconds; nil when unreadable.
        public var baselineCPUMicroseconds: Double?
        public var auditedCPUMicroseconds: Double?
        /// Rows sealed and the time it took.
        public var sealedRows: Int
        public var sealSeconds: Double
        public var sealRowsPerSecond: Double { sealSeconds > 0 ? Double(sealedRows) / sealSeconds : 0 }
        /// Rows verified and the time it took.
        public var verifiedRows: Int
        public var verifySeconds: Double
        public var verifyRowsPerSecond: Double { verifySeconds > 0 ? Double(verifiedRows) / verifySeconds : 0 }
        /// Raw write rate of audit rows in bulk (INSERT ... SELECT), rows/s, for context.
        public var bulkInsertRowsPerSecond: Double
        /// CPU seconds (certbus process + its PostgreSQL backend) spent sealing and verifying;
        /// nil when the backend's CPU time cannot be read (server on another machine).
        /// On a shared machine, rows per CPU second is steadier than rows per wall second.
        public var sealCPUSeconds: Double?
        public var verifyCPUSeconds: Double?
        public var sealRowsPerCPUSecond: Double? { sealCPUSeconds.flatMap { $0 > 0 ? Double(sealedRows) / $0 : nil } }
        public var verifyRowsPerCPUSecond: Double? { verifyCPUSeconds.flatMap { $0 > 0 ? Double(verifiedRows) / $0 : nil } }
        /// The 1-minute load average when the benchmark ended (how shared the machine was).
        public var loadAverage: Double?
    }

    /// Creates a scratch database next to `connectionString`'s, migrates it,
    /// measures, and drops it. `progress` receives one line per phase.
    public func run(connectionString: String, progress: (String) -> Void = { _ in }) throws -> Result {
        guard transactions > 0, rows > 0, batchSize > 0 else {
            throw BenchmarkError("transactions, rows and batch size must be positive")
        }
        let scratch = try ScratchDatabase(near: connectionString, purpose: "audit")
        defer { scratch.drop() }
        let c = try scratch.migratedConnection(progress: progress)
        defer { c.close() }
        try c.execute(
            """
            CREATE TABLE public.bench_lifecycle (
              id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, subject text NOT NULL, status text NOT NULL,
              updated_at timestamptz NOT NULL DEFAULT now())
            """)

        progress("timing \(transactions) lifecycle transactions without and with audit rows")
        func lifecycle(audit: Bool, _ i: Int) throws {
            try c.withTransaction { tx in
                let id = try tx.query(
                    "INSERT INTO public.bench_lifecycle (subject, status) VALUES ($1, 'REQUESTED') RETURNING id",
                    ["host-\(i).example.com"])[0].decode("id", as: Int64.self)
                if audit {
                    try AuditTrail.record(
                        on: tx, action: .issuanceInitiated, entityType: .certificate, entityId: String(id),
                        actor: .system("bench"), details: ["subject": "host-\(i).example.com", "profile": "web"])
                }
                try tx.execute("UPDATE public.bench_lifecycle SET status = 'ISSUED', updated_at = now() WHERE id = $1", [id])
                if audit {
                    try AuditTrail.record(
                        on: tx, action: .issuanceCompleted, entityType: .certificate, entityId: String(id),
                        actor: .system("bench"), details: ["serial": String(format: "%016x", i), "notAfter": "2030-01-01"])
                }
            }
        }
        for i in 0..<min(200, transactions) {  // warm-up
            try lifecycle(audit: i % 2 == 0, i)
        }
        // Interleave rounds so drift on a shared machine hits both sides alike.
        var baseline = 0.0, audited = 0.0
        var baselineCPU: Double? = 0, auditedCPU: Double? = 0
        let rounds = 10
        let perRound = max(1, transactions / rounds)
        for round in 0..<rounds {
            var cpu = BenchClock.cpuSeconds(backend: c.backendPID)
            baseline += try BenchClock.time { for i in 0..<perRound { try lifecycle(audit: false, round * perRound + i) } }
            var after = BenchClock.cpuSeconds(backend: c.backendPID)
            baselineCPU = BenchClock.difference(after, cpu).flatMap { d in baselineCPU.map { $0 + d } }
            cpu = after
            audited += try BenchClock.time { for i in 0..<perRound { try lifecycle(audit: true, round * perRound + i) } }
            after = BenchClock.cpuSeconds(backend: c.backendPID)
            auditedCPU = BenchClock.difference(after, cpu).flatMap { d in auditedCPU.map { $0 + d } }
        }
        let timed = perRound * rounds
        let baselineMicros = baseline / Double(timed) * 1_000_000
        let auditedMicros = audited / Double(timed) * 1_000_000
        let sealer = AuditSealer(batchSize: batchSize)
        _ = try sealer.sealAvailable(on: c)  // the lifecycle rows

        progress("inserting \(rows) audit rows")
        let insertSeconds = try BenchClock.time {
            var remaining = rows
            while remaining > 0 {
                let n = min(remaining, 50_000)
                try c.execute(
                    """
                    INSERT INTO certbus.audit_log (action, entity_type, entity_id, actor_type, actor_id, details)
                    SELECT 'RENEWAL_COMPLETED', 'Certificate', md5(g::text), 'SYSTEM', 'bench',
                           jsonb_build_object('serial', g, 'profile', 'web', 'notAfter', '2030-01-01T00:00:00Z')
                      FROM generate_series(1, $1) AS g
                    """, [n])
                remaining -= n
            }
        }
        try c.execute("VACUUM ANALYZE certbus.audit_log")
        try Self.waitUntilSealable(on: c)
        progress("sealing")
        var sealed = 0
        let sealCPUStart = BenchClock.cpuSeconds(backend: c.backendPID)
        let sealSeconds = try BenchClock.time { sealed = try sealer.sealAvailable(on: c) }
        let sealCPU = BenchClock.cpuSeconds(backend: c.backendPID)
        let key = try AuditSigningKey(privateKey: PrivateKey.generate(.ed25519))
        _ = try AuditCheckpointWriter(key: key).writeIfDue(on: c)
        _ = try sealer.sealAvailable(on: c)
        try c.execute("VACUUM ANALYZE certbus.audit_log")
        progress("verifying")
        var report = AuditVerificationReport()
        let verifyCPUStart = BenchClock.cpuSeconds(backend: c.backendPID)
        let verifySeconds = try BenchClock.time {
            report = try AuditVerifier(trustedPublicKey: key.publicKey).verify(on: c)
        }
        let verifyCPU = BenchClock.cpuSeconds(backend: c.backendPID)
        guard report.valid else {
            throw BenchmarkError("benchmark chain did not verify: \(report.problem?.description ?? "?")")
        }
        return Result(
            transactions: timed, baselineMicroseconds: baselineMicros, auditedMicroseconds: auditedMicros,
            baselineCPUMicroseconds: baselineCPU.map { $0 / Double(timed) * 1_000_000 },
            auditedCPUMicroseconds: auditedCPU.map { $0 / Double(timed) * 1_000_000 },
            sealedRows: sealed, sealSeconds: sealSeconds, verifiedRows: Int(report.rowsVerified),
            verifySeconds: verifySeconds, bulkInsertRowsPerSecond: Double(rows) / insertSeconds,
            sealCPUSeconds: BenchClock.difference(sealCPU, sealCPUStart), verifyCPUSeconds: BenchClock.difference(verifyCPU, verifyCPUStart),
            loadAverage: BenchClock.loadAverage())
    }

    /// Waits (at most a minute) until every audit row is below the server's snapshot xmin. The
    /// sealer seals only rows whose transaction is older than every running one, on the whole
    /// server; a transaction open in another database (a test running beside the benchmark)
    /// would otherwise leave the rows unsealed and the figure would be of nothing.
    static func waitUntilSealable(on c: Connection) throws {
        let deadline = Date().addingTimeInterval(60)
        while try c.query(
            "SELECT EXISTS (SELECT 1 FROM certbus.audit_log WHERE txid >= pg_snapshot_xmin(pg_current_snapshot())) AS waiting"
        ).firstRow!.decode("waiting", as: Bool.self) {
            guard Date() < deadline else {
                throw BenchmarkError("audit rows stay unsealable: a transaction on this PostgreSQL server has been open for over a minute")
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }
}