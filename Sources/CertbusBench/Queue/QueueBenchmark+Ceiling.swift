import Foundation
import Postgres

/// The database's own ceilings: pgbench running the bare SQL of a job's life, one job per
/// transaction and in batches (the scripts are `.sql` files in `Queue/pgbench/`, see ``PgbenchScripts``).
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

    /// What one pgbench run did: transactions (script runs) per second as pgbench counts them, and
    /// jobs per second as the table counts them.
    struct PgbenchRun {
        var scriptsPerSecond: Double
        var jobsPerSecond: Double
        /// False when the queue ran empty before the end (the rate is then too low).
        var queueLasted: Bool
    }

    /// Runs `script` with `clients` clients for `pgbenchSeconds` on a queue of `jobs` fresh NOOP jobs.
    func pgbench(_ program: String, url: String, c: Connection, script: String, clients: Int, jobs: Int,
                 variables: [String: String] = [:], options: String? = nil) throws -> PgbenchRun {
        try reset(c)
        try fillQuickly(c, jobs: jobs)
        _ = try? c.execute("CHECKPOINT")
        var arguments = ["-n", "-M", "prepared", "-f", script, "-c", String(clients), "-j", String(min(clients, 2)), "-T", String(pgbenchSeconds)]
        for (name, value) in variables.sorted(by: { $0.key < $1.key }) { arguments += ["-D", "\(name)=\(value)"] }
        let process = try BenchProcess(program, arguments + [url], environment: options.map { ["PGOPTIONS": $0] } ?? [:])
        guard let status = process.wait(timeout: Double(pgbenchSeconds) + 120), status == 0 else {
            throw BenchmarkError("pgbench failed:\n\(process.log)")
        }
        let output = process.log
        let summary = PgbenchSummary(output)
        guard let tps = summary.tps, let transactions = summary.transactions, transactions > 0 else {
            throw BenchmarkError("could not read pgbench's tps and transaction count:\n\(output)")
        }
        let row = try c.query(
            "SELECT count(*) FILTER (WHERE status = 'SUCCESS') AS done, count(*) FILTER (WHERE status = 'QUEUED') AS left FROM certbus.jobs")[0]
        let done = try row.decode("done", as: Int.self)
        let left = try row.decode("left", as: Int.self)
        return PgbenchRun(scriptsPerSecond: tps, jobsPerSecond: tps * Double(done) / Double(transactions), queueLasted: left > 0)
    }

    /// The best of several runs of `script`, one per client count, each on a fresh queue large
    /// enough for the run (doubled and run again when the queue ran empty).
    func sweep(_ program: String, url: String, c: Connection, script: String, label: String, expectedRate: Double,
               variables: [String: String] = [:]) throws -> [(clients: Int, tps: Double)] {
        var results: [(clients: Int, tps: Double)] = []
        var rate = expectedRate
        for clients in pgbenchClients {
            log("pgbench: \(clients) client(s), \(pgbenchSeconds) s, \(label)")
            var jobs = max(20_000, Int(rate * Double(pgbenchSeconds) * 1.5))
            var run = try pgbench(program, url: url, c: c, script: script, clients: clients, jobs: jobs, variables: variables)
            for _ in 0..<3 where !run.queueLasted {
                jobs *= 2
                log("  the queue ran empty; again with \(jobs) jobs")
                run = try pgbench(program, url: url, c: c, script: script, clients: clients, jobs: jobs, variables: variables)
            }
            guard run.queueLasted else { throw BenchmarkError("pgbench kept running the queue empty (\(jobs) jobs); lower --pgbench-seconds") }
            log(String(format: "  %.0f jobs/s", run.jobsPerSecond))
            results.append((clients, run.jobsPerSecond))
            rate = max(rate, run.jobsPerSecond)
        }
        return results
    }

    func measurePgbench(url: String, c: Connection, into results: inout Results) throws {
        let program = try locatePgbench(c)
        let scripts = try PgbenchScripts.locate()
        log("pgbench: \(program), scripts in \(scripts.directory.path)")
        results.pgbench = try sweep(program, url: url, c: c, script: scripts.oneJob.path, label: "claim + done per transaction",
                                    expectedRate: 10_000)
        if let best = results.pgbench.max(by: { $0.tps < $1.tps }) {
            log("pgbench: \(best.clients) clients with synchronous_commit=off, for reference")
            let run = try pgbench(program, url: url, c: c, script: scripts.oneJob.path, clients: best.clients,
                                  jobs: max(20_000, Int(best.tps * 3) * pgbenchSeconds), options: "-c synchronous_commit=off")
            results.pgbenchAsync = (best.clients, run.jobsPerSecond)
        }
        results.pgbenchBatched = try sweep(
            program, url: url, c: c, script: scripts.batch.path,
            label: "claim \(pgbenchBatch) + complete \(pgbenchBatch), two transactions", expectedRate: 40_000,
            variables: ["batch": String(pgbenchBatch)])
        try reset(c)
    }

    /// `jobs` NOOP jobs in one INSERT ... SELECT (no notification), then VACUUM ANALYZE.
    func fillQuickly(_ c: Connection, jobs: Int) throws {
        try c.withTransaction { tx in
            try tx.execute("SET LOCAL certbus.defer_job_notify = on")
            try tx.execute("INSERT INTO certbus.jobs (kind) SELECT 'NOOP' FROM generate_series(1, $1)", [jobs])
        }
        try c.execute("VACUUM ANALYZE certbus.jobs")
    }
}

/// The figures of pgbench's summary that the ceilings use.
public struct PgbenchSummary: Equatable, Sendable {
    /// "tps = 1234.5 (without initial connection time)".
    public var tps: Double?
    /// "number of transactions actually processed: 12345" (script runs).
    public var transactions: Int?

    /// A summary with these figures.
    public init(tps: Double?, transactions: Int?) {
        self.tps = tps
        self.transactions = transactions
    }

    /// Reads the figures from pgbench's output; nil for those it does not contain.
    public init(_ output: String) {
        for line in output.split(separator: "\n") {
            if line.hasPrefix("tps = "), tps == nil {
                tps = Double(line.dropFirst(6).prefix { $0 != " " })
            } else if let range = line.range(of: "number of transactions actually processed: ") {
                transactions = Int(line[range.upperBound...].prefix { $0.isNumber })
            }
        }
    }
}
