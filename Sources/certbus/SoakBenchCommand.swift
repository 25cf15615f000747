import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench soak`: N ISSUE_CERT jobs through real worker processes while a worker is
/// SIGKILLed and PostgreSQL restarted, then everything checked (docs/reliability.md).
enum SoakBenchCommand {
    static let jobs = Option<Int>("jobs", default: 10_000, help: "ISSUE_CERT jobs to run.")
    static let quick = Flag("quick", help: "A short run: 500 jobs and an openssl sample of 5 (what the test suite runs).")
    static let workers = Option<Int>("workers", default: 3, help: "Worker processes at the start (a replacement is started after the faults).")
    static let concurrency = Option<Int>("concurrency", default: 8, help: "--concurrency of each worker.")
    static let lease = Option<Double>("lease", valueName: "seconds", default: 10, help: "--lease of each worker: how long the killed worker's jobs wait for the rescuer.")
    static let killAt = Option<Int>("kill-at", valueName: "percent", default: 30, help: "SIGKILL a worker when this share of the jobs is done.")
    static let restartAt = Option<Int>("restart-at", valueName: "percent", default: 60, help: "Restart PostgreSQL when this share of the jobs is done.")
    static let noRestart = Flag("no-restart", help: "Do not restart PostgreSQL (for a server certbus does not manage).")
    static let restartCommand = Option<String>(
        "restart-command", valueName: "command",
        help: "Shell command that restarts the server (e.g. 'pg_ctlcluster 15 main restart -m fast'); needed with a database URL.")
    static let release = Option<Double>(
        "release-rate", valueName: "jobs/s",
        help: "Make the jobs due at this rate from the start instead of all at once (default with --quick: 100).")
    static let generatedKeys = Flag("generated-keys", help: "Let certbus generate each key (sealed under the KEK) instead of sending CSRs.")
    static let sample = Option<Int>("openssl-sample", valueName: "n", default: 20, help: "Certificates also checked with `openssl verify`.")
    static let timeout = Option<Double>("timeout", valueName: "seconds", default: 1800, help: "Stop waiting for the jobs after this long (the checks then fail).")
    static let keep = Option<String>(
        "keep", valueName: "dir",
        help: "Keep the scratch database and write the run's keys and logs to this empty or new folder, for inspection.")

    static let command = Command(
        "soak", abstract: "Run ISSUE_CERT jobs through real workers while killing one and restarting PostgreSQL; check nothing was lost or doubled.",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), a built-in CA (ECDSA P-256) and \
            --jobs ISSUE_CERT jobs, then starts --workers `certbus worker` processes and a `certbus scheduler` \
            (from this executable, with a private home folder for their KEK and audit key). At --kill-at % done \
            one worker is SIGKILLed; at --restart-at % PostgreSQL is restarted (fast shutdown, then start: the \
            embedded cluster by certbus, another server with --restart-command) and a replacement worker started. \
            When the queue is empty it checks: every job SUCCESS, one successful attempt, one certificate, one CA \
            ledger entry, exactly the expected audit rows and event per job; every chain verifies (in Swift, and \
            with openssl on a sample); `certbus audit verify` passes; no private key or KEK in the database or \
            the logs. Prints the timeline, the checks and elapsed time, certificates/s and worker memory; exit \
            status 1 when any check fails. Restarting the server drops every session on it, not only the soak's. \
            Use a release build for figures. See docs/reliability.md.
            """,
        options: CommandContext.options + [
            jobs, quick, workers, concurrency, lease, killAt, restartAt, noRestart, restartCommand, release, generatedKeys, sample, timeout, keep,
        ]
    ) { invocation in
        let context = CommandContext(invocation)
        var benchmark = SoakBenchmark(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path,
            restart: SoakRestart("not decided", perform: nil))
        if invocation[quick] {
            guard !invocation.isGiven(jobs) else { throw UsageError("use either --quick or --jobs, not both") }
            benchmark.jobs = 500
            benchmark.opensslSample = invocation.isGiven(sample) ? invocation[sample]! : 5
            // Workers run ISSUE_CERT in batches: 500 jobs due at once finish between two looks at the queue.
            benchmark.releasePerSecond = invocation[release] ?? 100
        } else {
            benchmark.jobs = invocation[jobs]!
            benchmark.opensslSample = invocation[sample]!
            benchmark.releasePerSecond = invocation[release]
        }
        benchmark.workers = invocation[workers]!
        benchmark.concurrency = invocation[concurrency]!
        benchmark.leaseSeconds = invocation[lease]!
        benchmark.killAt = Double(invocation[killAt]!) / 100
        benchmark.restartAt = Double(invocation[restartAt]!) / 100
        benchmark.generatedKeys = invocation[generatedKeys]
        benchmark.timeout = invocation[timeout]!
        benchmark.keepDirectory = invocation[keep]
        guard benchmark.jobs > 0, benchmark.workers > 0, benchmark.timeout > 0, benchmark.leaseSeconds > 0, benchmark.opensslSample >= 0 else {
            throw UsageError("--jobs, --workers, --lease and --timeout must be positive, --openssl-sample not negative")
        }
        if let rate = benchmark.releasePerSecond, !(rate > 0 && rate.isFinite) {
            throw UsageError("--release-rate must be a positive number of jobs per second")
        }
        guard (1...1000).contains(benchmark.concurrency) else { throw UsageError("--concurrency must be between 1 and 1000") }
        guard 0 < invocation[killAt]!, invocation[killAt]! < invocation[restartAt]!, invocation[restartAt]! < 100 else {
            throw UsageError("want 0 < --kill-at < --restart-at < 100 (percent of the jobs done)")
        }
        benchmark.restart = try restart(invocation, context: context)
        benchmark.serverLogFile = try context.target().cluster?.logFile
        let bench = try BenchInvocation(invocation)
        let line = ProgressLine(invocation, quiet: context.json)
        benchmark.log = { text in
            line.finish()
            bench.progress(text)
        }
        benchmark.progress = { done, total, seconds in
            line.update("soak: " + ProgressLine.describe(done: done, total: total, elapsed: seconds, unit: "jobs"))
        }
        let result = try benchmark.run(connectionString: bench.url)
        line.finish()
        if context.json {
            invocation.output.write(try JSONOutput.string(result))
        } else {
            invocation.print(report(result))
        }
        if !result.passed { throw ExitCode.failure }
    }

    /// How to restart the server: the embedded cluster by certbus, a command, or not at all.
    static func restart(_ invocation: Invocation, context: CommandContext) throws -> SoakRestart {
        if invocation[noRestart] {
            guard invocation[restartCommand] == nil else { throw UsageError("use either --no-restart or --restart-command, not both") }
            return SoakRestart("--no-restart was given", perform: nil)
        }
        if let command = invocation[restartCommand] {
            guard !command.trimmingCharacters(in: .whitespaces).isEmpty else { throw UsageError("--restart-command is empty") }
            return .command(command)
        }
        guard let cluster = try context.target().cluster else {
            throw UsageError(
                "certbus cannot restart a PostgreSQL server it does not manage (\(try context.target().displayName)): "
                    + "give --restart-command 'COMMAND' (e.g. 'pg_ctlcluster 15 main restart -m fast'), or --no-restart to skip that fault")
        }
        return SoakRestart("fast shutdown and start of the embedded cluster") {
            try cluster.stop(timeout: 60)
            try cluster.start(timeout: 60)
        }
    }

    /// The human report: parameters, timeline, checks, figures, verdict.
    static func report(_ r: SoakResult) -> String {
        var lines: [String] = []
        lines.append("certbus bench soak: \(ProgressLine.grouped(r.jobs)) ISSUE_CERT jobs (ECDSA P-256, built-in CA, \(r.generatedKeys ? "keys generated by certbus" : "CSRs")), "
            + "\(r.workers) workers × \(r.concurrency) + scheduler, lease \(Int(r.leaseSeconds)) s"
            + (r.releasePerSecond.map { ", jobs made due at \(Int($0))/s" } ?? ", all jobs due at the start"))
        lines.append("database: \(r.database) (scratch) on \(r.server.split(separator: " ").prefix(2).joined(separator: " ")), fsync \(r.settings["fsync"] ?? "?"), synchronous_commit \(r.settings["synchronous_commit"] ?? "?")")
        lines.append("faults: SIGKILL a worker at \(r.killAtPercent) %, "
            + (r.restarts ? "restart PostgreSQL at \(r.restartAtPercent) % (\(r.restart))" : "no PostgreSQL restart (\(r.restart))"))
        lines.append("")
        lines.append("timeline:")
        lines += r.timeline.map { String(format: "  +%6.1f s  %6d done  %@", $0.seconds, $0.done, $0.what) }
        lines.append("")
        var table = TableFormatter([.init("CHECK"), .init("RESULT"), .init("DETAIL")])
        table.separator = "  "
        var rows: [[String]] = []
        for check in r.checks {
            rows.append([check.name, check.passed ? "PASS" : "FAIL", check.detail])
            rows += check.examples.map { ["", "", "  " + $0] }
        }
        lines.append(table.render(rows))
        let rss = r.workerPeakRSS.sorted { $0.key < $1.key }.map { String(format: "%@ %.1f MB", $0.key, Double($0.value) / 1_048_576) }
        lines.append(String(format: "elapsed %.1f s (first claim to last completion, database clock) = %.0f certificates/s", r.seconds, r.certificatesPerSecond))
        lines.append("worker peak RSS: " + rss.joined(separator: ", "))
        if !r.completedAfterRestart.isEmpty {
            lines.append("completed after the restart: " + r.completedAfterRestart.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if !r.unsuccessfulAttempts.isEmpty {
            lines.append("attempts that did not succeed (then retried):")
            lines += r.unsuccessfulAttempts.sorted { $0.value > $1.value }.map { "  \($0.value) × \($0.key)" }
        }
        lines.append(String(format: "load average: %.2f at the start, %.2f at the end", r.loadAverageStart ?? 0, r.loadAverageEnd ?? 0))
        if let url = r.keptDatabaseURL, let dir = r.keptDirectory {
            lines.append("kept: database \(r.database) (\(CommandContext.redacted(url))), keys and logs in \(dir)")
        }
        lines.append(r.passed ? "PASS: nothing lost, nothing doubled" : "FAIL: \(r.checks.filter { !$0.passed }.map(\.name).joined(separator: ", "))")
        return lines.joined(separator: "\n")
    }
}
