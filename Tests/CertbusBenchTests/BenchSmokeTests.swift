import CertbusBench
import CertbusTesting
import Foundation
import Testing

/// Each `certbus bench` subcommand run end to end with tiny sizes, so a change that breaks a
/// benchmark is caught by the suite. These tests check that a run finishes, prints its report
/// and drops its scratch database; they never look at a timing.
///
/// Database: a fresh test database on the shared test cluster gives the URL; each benchmark
/// creates (and must drop) its own `certbus_bench_*` scratch database next to it.
@Suite("Benchmarks, smoke runs", .serialized)
struct BenchSmokeTests {
    /// Runs `certbus bench <arguments>` and checks it succeeded and left no scratch database behind.
    private func bench(_ arguments: [String]) throws -> CommandResult {
        let database = try TestDatabase.create(migrated: false)
        defer { database.drop() }
        let command = try CertbusCommand(["bench"] + arguments, database: database)
        let pid = command.processIdentifier
        let result = command.finish(timeout: 600)
        #expect(result.status == 0, "bench \(arguments.joined(separator: " ")) failed:\n\(result.combined)")
        let leftovers = try TestCluster.withAdmin { admin in
            try admin.query("SELECT datname FROM pg_database WHERE datname LIKE $1", ["certbus_bench_%_\(pid)_%"])
        }
        #expect(leftovers.isEmpty, "scratch database left behind by pid \(pid)")
        return result
    }

    @Test func queue() throws {
        let result = try bench([
            "queue", "--jobs", "300", "--workers", "1", "--concurrency", "4", "--enqueue-jobs", "40", "--clients", "2",
            "--batch-jobs", "2000", "--latency-rate", "50", "--latency-seconds", "0.5", "--pgbench-seconds", "1",
            "--pgbench-clients", "1", "--pgbench-batch", "10", "--churn-jobs", "0",
        ])
        for expected in ["pgbench ceiling", "pgbench batched ceiling", "1 worker process(es): 300 jobs in", "% of the batched ceiling",
                         "Enqueue-to-start latency", "NOTIFY designs"] {
            #expect(result.output.contains(expected), "missing '\(expected)' in:\n\(result.output)")
        }
    }

    @Test func issue() throws {
        let result = try bench(["issue", "--certificates", "20", "--workers", "1", "--concurrency", "2", "--json"])
        let rounds = try #require(try result.json() as? [[String: Any]])
        #expect(rounds.count == 1)
        #expect(rounds.first?["certificates"] as? Int == 20)
        #expect(rounds.first?["audit_rows"] as? Int == 60)
        #expect(rounds.first?["events"] as? Int == 20)
    }

    @Test func growth() throws {
        let result = try bench([
            "growth", "--churn-jobs", "2000", "--drain-jobs", "300", "--workers", "1", "--concurrency", "4", "--audit-rows", "3000",
            "--certificates", "2000", "--jobs", "2000",
        ])
        for expected in ["1. Drain after churn", "% of fresh", "heap-only (HOT)", "Index Scan using jobs_claimable",
                         "2. Audit log, 3000 rows", "sealing: 3000 rows", "verification:", "plan of the sealer's work list",
                         "4. Expiry scan over 2000 certificates", "plan of the candidate query",
                         "3. Weekly report over 2000 jobs", "and 3000 audit rows", "Query Text:"] {
            #expect(result.output.contains(expected), "missing '\(expected)' in:\n\(result.output)")
        }
    }

    @Test func issueOneByOne() throws {
        let result = try bench(["issue", "--certificates", "10", "--workers", "1", "--batch-size", "1", "--json"])
        let rounds = try #require(try result.json() as? [[String: Any]])
        #expect(rounds.first?["certificates"] as? Int == 10)
        #expect(rounds.first?["audit_rows"] as? Int == 30)
        #expect(rounds.first?["batch_size"] as? Int == 1)
    }

    @Test func audit() throws {
        let result = try bench(["audit", "--transactions", "20", "--rows", "500", "--batch-size", "100", "--json"])
        let report = try #require(try result.json() as? [String: Any])
        #expect((report["verified_rows"] as? Int ?? 0) >= 500)
        #expect((report["sealed_rows"] as? Int ?? 0) >= 500)
    }

    @Test func events() throws {
        let result = try bench(["events", "--events", "50", "--certificates", "500"])
        for expected in ["dispatch, no trigger applies", "expiry scan over 500 certificates", "candidate query plan"] {
            #expect(result.output.contains(expected), "missing '\(expected)' in:\n\(result.output)")
        }
    }

    @Test func metrics() throws {
        let result = try bench([
            "metrics", "--certificates", "500", "--finished-jobs", "200", "--queued-jobs", "10", "--backlog-jobs", "50",
            "--audit-rows", "20", "--scrapes", "2", "--json",
        ])
        let report = try #require(try result.json() as? [String: Any])
        #expect(report["certificates"] as? Int == 500)
        #expect((report["series"] as? Int ?? 0) > 50)
        #expect((report["plan"] as? String ?? "").contains("certificate_tallies"))
        #expect(result.error == "")  // --json: no phase lines
    }

    @Test func report() throws {
        let result = try bench(["report", "--certificates", "300", "--jobs", "500"])
        for expected in ["weekly report, 8 weeks:", "daily report:", "time to renew", "certificate trends plan:"] {
            #expect(result.output.contains(expected), "missing '\(expected)' in:\n\(result.output)")
        }
    }

    @Test func refusesNonPositiveSizesWithAUsageError() throws {
        let database = try TestDatabase.create(migrated: false)
        defer { database.drop() }
        let result = try CertbusCommand.run(["bench", "queue", "--workers", "0"], database: database)
        #expect(result.status == 2)
        #expect(result.error.contains("--workers"))
    }

    @Test func incident() throws {
        let result = try bench(["incident", "--certificates", "20000", "--renewals", "12", "--workers", "1", "--concurrency", "2",
                                "--revoke-old", "--json"])
        let report = try #require(try result.json() as? [String: Any])
        let blast = try #require(report["blast_radius"] as? [String: Any])
        let queries = try #require(blast["queries"] as? [[String: Any]])
        #expect(queries.count == 13)
        #expect(queries.first { ($0["question"] as? String)?.contains("--issued-by bench-sub-1 (") == true }?["matches"] as? Int == 200)
        let incident = try #require(report["incident"] as? [String: Any])
        #expect(incident["renewals"] as? Int == 12)
        #expect(incident["revoke_old"] as? Bool == true)
    }
}

@Suite("pgbench output")
struct PgbenchSummaryTests {
    @Test func readsTpsAndTransactions() {
        let output = """
            transaction type: /x/batch.sql
            number of clients: 8
            number of transactions actually processed: 1436
            number of failed transactions: 0 (0.000%)
            latency average = 55.720 ms
            initial connection time = 9.163 ms
            tps = 142.826566 (without initial connection time)
            """
        #expect(PgbenchSummary(output) == PgbenchSummary(tps: 142.826566, transactions: 1436))
        #expect(PgbenchSummary("pgbench: error: connection refused") == PgbenchSummary(tps: nil, transactions: nil))
    }

    @Test func theScriptsAreFoundBesideTheirCode() throws {
        let scripts = try PgbenchScripts.locate(environment: [:])
        #expect(try String(contentsOf: scripts.batch, encoding: .utf8).contains("LIMIT :batch FOR UPDATE SKIP LOCKED"))
        #expect(try String(contentsOf: scripts.oneJob, encoding: .utf8).contains("LIMIT 1 FOR UPDATE SKIP LOCKED"))
    }
}

@Suite("Scratch database URLs")
struct ScratchDatabaseURLTests {
    @Test(arguments: [
        ("postgresql://u@h:5432/certbus", "postgresql://u@h:5432/x_1"),
        ("postgresql://u@h:5432/certbus?sslmode=require", "postgresql://u@h:5432/x_1?sslmode=require"),
        ("postgres://h", "postgres://h/x_1"),
        ("postgresql://h?host=/tmp", "postgresql://h/x_1?host=/tmp"),
        ("host=/tmp dbname=certbus", "host=/tmp dbname=certbus dbname='x_1'"),
    ])
    func replacesTheDatabase(base: String, expected: String) {
        #expect(ScratchDatabase.connectionString(base, database: "x_1") == expected)
    }

    @Test func quotesKeywordValues() {
        #expect(ScratchDatabase.connectionString("host=/tmp", database: "a'b\\c") == #"host=/tmp dbname='a\'b\\c'"#)
    }
}

@Suite("Module boundaries")
struct BenchModuleBoundaryTests {
    /// The benchmarks are for the `certbus bench` commands only: no product module may import them.
    @Test func noProductModuleImportsCertbusBench() throws {
        let sources = TestCluster.checkoutDirectory.appendingPathComponent("Sources")
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)?
            .compactMap { $0 as? URL }.filter { $0.pathExtension == "swift" } ?? []
        #expect(files.count > 100, "found only \(files.count) Swift files under \(sources.path)")
        let offenders = try files.filter { file in
            let module = file.pathComponents[sources.pathComponents.count]
            guard module != "certbus", module != "CertbusBench" else { return false }
            return try String(contentsOf: file, encoding: .utf8).split(separator: "\n")
                .contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("import CertbusBench") }
        }
        #expect(offenders.isEmpty, "product files importing CertbusBench: \(offenders.map(\.lastPathComponent))")
    }
}
