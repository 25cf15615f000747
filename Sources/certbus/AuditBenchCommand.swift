import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench audit`: audit insert overhead, sealing and verification rates,
/// measured in a scratch database created next to the configured one and dropped after.
enum AuditBenchCommand {
    static let transactions = Option<Int>("transactions", default: 2000, help: "Lifecycle transactions to time with and without audit rows.")
    static let rows = Option<Int>("rows", default: 200_000, help: "Audit rows to seal and verify.")
    static let batchSize = Option<Int>("batch-size", default: 5000, help: "Rows per seal batch.")

    static let command = Command(
        "audit", abstract: "Measure audit insert overhead, sealing rate and verification rate (use a release build).",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), migrates it, times lifecycle-like \
            transactions without and with their two audit rows, bulk-inserts --rows audit rows, seals them and \
            verifies the chain, then drops the database. Nothing is written to the real audit log.
            """,
        options: CommandContext.options + [transactions, rows, batchSize]
    ) { invocation in
        let benchmark = AuditBenchmark(
            transactions: invocation[transactions] ?? 2000, rows: invocation[rows] ?? 200_000,
            batchSize: invocation[batchSize] ?? 5000)
        guard benchmark.transactions > 0, benchmark.rows > 0, benchmark.batchSize > 0 else {
            throw UsageError("--transactions, --rows and --batch-size must be positive")
        }
        let bench = try BenchInvocation(invocation)
        let context = bench.context
        let result = try benchmark.run(connectionString: bench.url, progress: bench.progress)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.object([
                "transactions": .int(result.transactions),
                "baseline_us": .double(result.baselineMicroseconds), "audited_us": .double(result.auditedMicroseconds),
                "overhead_us": .double(result.overheadMicroseconds), "overhead_percent": .double(result.overheadPercent),
                "baseline_cpu_us": result.baselineCPUMicroseconds.map { .double($0) } ?? .null,
                "audited_cpu_us": result.auditedCPUMicroseconds.map { .double($0) } ?? .null,
                "sealed_rows": .int(result.sealedRows), "seal_seconds": .double(result.sealSeconds),
                "seal_rows_per_second": .double(result.sealRowsPerSecond),
                "verified_rows": .int(result.verifiedRows), "verify_seconds": .double(result.verifySeconds),
                "verify_rows_per_second": .double(result.verifyRowsPerSecond),
                "bulk_insert_rows_per_second": .double(result.bulkInsertRowsPerSecond),
                "seal_rows_per_cpu_second": result.sealRowsPerCPUSecond.map { .double($0) } ?? .null,
                "verify_rows_per_cpu_second": result.verifyRowsPerCPUSecond.map { .double($0) } ?? .null,
                "load_average": result.loadAverage.map { .double($0) } ?? .null,
            ])))
            return
        }
        func f(_ v: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", v) }
        invocation.print("""
            lifecycle transaction (\(result.transactions) timed): \(f(result.baselineMicroseconds)) µs without audit, \
            \(f(result.auditedMicroseconds)) µs with 2 audit rows (+\(f(result.overheadMicroseconds)) µs, +\(f(result.overheadPercent, 1))%)
            bulk insert: \(f(result.bulkInsertRowsPerSecond)) rows/s
            sealing: \(result.sealedRows) rows in \(f(result.sealSeconds, 2)) s = \(f(result.sealRowsPerSecond)) rows/s
            verification: \(result.verifiedRows) rows in \(f(result.verifySeconds, 2)) s = \(f(result.verifyRowsPerSecond)) rows/s
            """)
        if let base = result.baselineCPUMicroseconds, let audited = result.auditedCPUMicroseconds {
            invocation.print("lifecycle transaction CPU (certbus + backend): \(f(base)) µs without audit, \(f(audited)) µs with (+\(f(audited - base)) µs)")
        }
        if let seal = result.sealRowsPerCPUSecond, let verify = result.verifyRowsPerCPUSecond {
            invocation.print("per CPU second (certbus + its PostgreSQL backend): sealing \(f(seal)) rows, verification \(f(verify)) rows")
        }
        if let load = result.loadAverage { invocation.print("load average at the end: \(f(load, 2)) (\(ProcessInfo.processInfo.activeProcessorCount) CPUs)") }
    }

}
