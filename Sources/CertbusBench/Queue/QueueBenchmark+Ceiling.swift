import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// The database's own ceiling: pgbench running the bare SQL of one job's life.
extension QueueBenchmark {
    func locatePgbench(_ c: Connection) throws -> String {
        if let pgbenchPath { return pgbenchPath }
        var candidates: [String] = []
        let major = try c.query("SELECT current_setting('server_version_num')::int / 10000 AS v")[0].decode("v", as: Int.self)
        candidates.append("/usr/lib/postgresql/\(major)/bin/pgbench")
        if let pgConfig = ["/usr/bin/pg_config", "/usr/local/bin/pg_config"].first(where: { FileManager.default.isExecutableFile(atPath: $0) }),
            let bin = try? BenchProcess.output(pgConfig, ["--bindir"])
        {
            candidates.append(bin.trimmingCharacters(in: .whitespacesAndNewlines) + "/pgbench")
        }
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append("\(directory)/pgbench")
        }
        guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw BenchmarkError("pgbench not found (looked in \(candidates.prefix(3).joined(separator: ", ")), PATH); give --pgbench PATH")
        }
        return found
    }

    /// The bare SQL of one job's life in one transaction: claim one row with SKIP LOCKED, mark it done.
    static let pgbenchScript = """
        BEGIN;
        UPDATE certbus.jobs SET status = 'RUNNING', attempt = attempt + 1, started_at = now(), locked_by = 'pgbench', lease_expires_at = now() + interval '30 seconds' WHERE id = (SELECT id FROM certbus.jobs WHERE status = 'QUEUED' AND run_at <= now() ORDER BY priority, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id \\gset
        UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL WHERE id = :id;
        END;

        """

    func pgbench(_ program: String, url: String, script: String, clients: Int, options: String? = nil) throws -> Double {
        let arguments = [
            "-n", "-M", "prepared", "-f", script, "-c", String(clients), "-j", String(min(clients, 2)), "-T", String(pgbenchSeconds), url,
        ]
        let process = try BenchProcess(program, arguments, environment: options.map { ["PGOPTIONS": $0] } ?? [:])
        guard let status = process.wait(timeout: Double(pgbenchSeconds) + 120), status == 0 else {
            throw BenchmarkError("pgbench failed:\n\(process.log)")
        }
        let output = process.log
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("tps = ") }),
            let value = Double(line.dropFirst(6).prefix { $0 != " " })
        else { throw BenchmarkError("could not read pgbench's tps:\n\(output)") }
        if output.contains("aborted") && !output.contains("number of failed transactions: 0") && output.contains("query did not return") {
            throw BenchmarkError("pgbench ran out of queued jobs; lower --pgbench-seconds:\n\(output)")
        }
        return value
    }

    func measurePgbench(url: String, c: Connection, into results: inout Results) throws {
        let program = try locatePgbench(c)
        let scriptPath = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-bench-\(getpid()).sql").path
        try Self.pgbenchScript.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: scriptPath) }
        for clients in pgbenchClients {
            try reset(c)
            try fill(c, jobs: max(20_000, 3_000 * pgbenchSeconds * 2))
            log("pgbench: \(program), \(clients) client(s), \(pgbenchSeconds) s, claim + done per transaction")
            let tps = try pgbench(program, url: url, script: scriptPath, clients: clients)
            log(String(format: "  %.0f jobs/s", tps))
            results.pgbench.append((clients, tps))
        }
        if let best = results.pgbench.max(by: { $0.tps < $1.tps }) {
            try reset(c)
            try fill(c, jobs: max(20_000, 10_000 * pgbenchSeconds))
            log("pgbench: \(best.clients) clients with synchronous_commit=off, for reference")
            let tps = try pgbench(program, url: url, script: scriptPath, clients: best.clients, options: "-c synchronous_commit=off")
            results.pgbenchAsync = (best.clients, tps)
        }
        try reset(c)
    }
}
