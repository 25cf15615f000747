import CertbusCore
import CertbusDatabase
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
            throw AuditError("transactions, rows and batch size must be positive")
        }
        let admin = try Connection.connect(connectionString, applicationName: "certbus-bench")
        defer { admin.close() }
        let name = "certbus_bench_audit_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        let quoted = try admin.quoteIdentifier(name)
        try admin.execute("CREATE DATABASE \(quoted)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)") }
        let c = try Connection.connect(
            Self.connectionString(connectionString, database: name), applicationName: "certbus-bench")
        defer { c.close() }
        progress("migrating scratch database \(name)")
        _ = try Migrator.located().migrate(c)
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
            var cpu = Self.cpuSeconds(backend: c.backendPID)
            baseline += try Self.time { for i in 0..<perRound { try lifecycle(audit: false, round * perRound + i) } }
            var after = Self.cpuSeconds(backend: c.backendPID)
            baselineCPU = Self.difference(after, cpu).flatMap { d in baselineCPU.map { $0 + d } }
            cpu = after
            audited += try Self.time { for i in 0..<perRound { try lifecycle(audit: true, round * perRound + i) } }
            after = Self.cpuSeconds(backend: c.backendPID)
            auditedCPU = Self.difference(after, cpu).flatMap { d in auditedCPU.map { $0 + d } }
        }
        let timed = perRound * rounds
        let baselineMicros = baseline / Double(timed) * 1_000_000
        let auditedMicros = audited / Double(timed) * 1_000_000
        let sealer = AuditSealer(batchSize: batchSize)
        _ = try sealer.sealAvailable(on: c)  // the lifecycle rows

        progress("inserting \(rows) audit rows")
        let insertSeconds = try Self.time {
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
        progress("sealing")
        var sealed = 0
        let sealCPUStart = Self.cpuSeconds(backend: c.backendPID)
        let sealSeconds = try Self.time { sealed = try sealer.sealAvailable(on: c) }
        let sealCPU = Self.cpuSeconds(backend: c.backendPID)
        let key = try AuditSigningKey(privateKey: PrivateKey.generate(.ed25519))
        _ = try AuditCheckpointWriter(key: key).writeIfDue(on: c)
        _ = try sealer.sealAvailable(on: c)
        try c.execute("VACUUM ANALYZE certbus.audit_log")
        progress("verifying")
        var report = AuditVerificationReport()
        let verifyCPUStart = Self.cpuSeconds(backend: c.backendPID)
        let verifySeconds = try Self.time {
            report = try AuditVerifier(trustedPublicKey: key.publicKey).verify(on: c)
        }
        let verifyCPU = Self.cpuSeconds(backend: c.backendPID)
        guard report.valid else {
            throw AuditError("benchmark chain did not verify: \(report.problem?.description ?? "?")")
        }
        return Result(
            transactions: timed, baselineMicroseconds: baselineMicros, auditedMicroseconds: auditedMicros,
            baselineCPUMicroseconds: baselineCPU.map { $0 / Double(timed) * 1_000_000 },
            auditedCPUMicroseconds: auditedCPU.map { $0 / Double(timed) * 1_000_000 },
            sealedRows: sealed, sealSeconds: sealSeconds, verifiedRows: Int(report.rowsVerified),
            verifySeconds: verifySeconds, bulkInsertRowsPerSecond: Double(rows) / insertSeconds,
            sealCPUSeconds: Self.difference(sealCPU, sealCPUStart), verifyCPUSeconds: Self.difference(verifyCPU, verifyCPUStart),
            loadAverage: Self.loadAverage())
    }

    static func difference(_ end: Double?, _ start: Double?) -> Double? {
        guard let end, let start else { return nil }
        return end - start
    }

    /// CPU seconds used so far by this process plus the backend `pid` (from /proc), nil if unreadable.
    static func cpuSeconds(backend pid: Int32) -> Double? {
        var usage = rusage()
        #if canImport(Glibc)
            getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
            getrusage(RUSAGE_SELF, &usage)
        #endif
        let own = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // After the command name: state is field 3, utime 14 and stime 15 (1-based in proc(5)).
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        return own + (utime + stime) / ticks
    }

    static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    static func time(_ body: () throws -> Void) throws -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// `base` pointing at database `database`: the URL's path replaced, or a
    /// `dbname=` keyword appended to a keyword/value string (the last one wins).
    public static func connectionString(_ base: String, database: String) -> String {
        if base.hasPrefix("postgres://") || base.hasPrefix("postgresql://") {
            let schemeEnd = base.range(of: "://")!.upperBound
            let rest = base[schemeEnd...]
            let pathStart = rest.firstIndex(of: "/")
            let queryStart = rest.firstIndex(of: "?")
            let authorityEnd = [pathStart, queryStart].compactMap { $0 }.min() ?? rest.endIndex
            let encoded = database.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(["_", "-", "."])) ?? database
            let query = queryStart.map { String(rest[$0...]) } ?? ""
            return String(base[..<schemeEnd]) + rest[..<authorityEnd] + "/" + encoded + query
        }
        let escaped = database.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'")
        return base + " dbname='\(escaped)'"
    }
}
