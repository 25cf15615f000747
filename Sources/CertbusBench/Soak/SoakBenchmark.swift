import CertbusServices
import Foundation
import Postgres

/// `certbus bench soak`: the claims certbus makes about faults, tested together and at volume.
/// N ISSUE_CERT jobs (ECDSA P-256, built-in CA) run through real `certbus worker` processes and
/// a `certbus scheduler`; one worker is SIGKILLed at ~30 % done, PostgreSQL is restarted (fast
/// shutdown, then start) at ~60 % and a replacement worker started; then the run is checked:
/// nothing lost, nothing doubled, every chain verifies, the audit chain verifies with exactly the
/// expected rows per job, and no secret leaked into the database or the logs.
///
/// Runs in a scratch database next to the configured one (dropped after, unless `keepDirectory`
/// is set), with a private home folder for the processes' KEK and audit key. One file per phase:
/// setup, run (processes and faults), verify; the checks themselves are pure (``SoakChecks``).
public struct SoakBenchmark: Sendable {
    /// ISSUE_CERT jobs enqueued.
    public var jobs = 10_000
    /// Worker processes started at the beginning (one more replaces the killed one).
    public var workers = 3
    /// `--concurrency` of each worker.
    public var concurrency = 8
    /// `--lease` of each worker, seconds: how long the killed worker's jobs wait for the rescuer.
    public var leaseSeconds = 10.0
    /// Fraction of jobs done when a worker is SIGKILLed.
    public var killAt = 0.30
    /// Fraction of jobs done when PostgreSQL is restarted.
    public var restartAt = 0.60
    /// Jobs made due per second from the moment the workers start (their `run_at` staggered), or
    /// nil for all of them due at once (a backlog). Workers run ISSUE_CERT in batches, so a small
    /// backlog can finish between two looks at the queue; a steady release keeps jobs open while
    /// the faults are injected.
    public var releasePerSecond: Double?
    /// Let certbus generate the keys (sealed under the KEK) instead of sending CSRs.
    public var generatedKeys = false
    /// Certificates also checked with `openssl verify`.
    public var opensslSample = 20
    /// Give up waiting for the jobs after this many seconds.
    public var timeout = 1800.0
    /// Keep the scratch database, and put the keys and logs into this folder (empty or new).
    public var keepDirectory: String?
    /// How PostgreSQL is restarted, or why it is not.
    public var restart: SoakRestart
    /// The server's log file, when known (the embedded cluster's): what the run appends to it is scanned for secrets.
    public var serverLogFile: String?
    /// The `certbus` executable the processes are started from.
    public var executable: String
    /// Receives one line per phase and fault.
    public var log: @Sendable (String) -> Void = { _ in }
    /// Receives the number of jobs done while the run waits (for a progress line).
    public var progress: @Sendable (_ done: Int, _ total: Int, _ seconds: Double) -> Void = { _, _, _ in }

    /// A soak with the default sizes, restarting the server with `restart`.
    public init(executable: String, restart: SoakRestart) {
        self.executable = executable
        self.restart = restart
    }

    /// Sets up, runs and verifies; the result says whether every check passed.
    public func run(connectionString base: String) throws -> SoakResult {
        guard jobs > 0, workers > 0, concurrency > 0, leaseSeconds > 0, timeout > 0, opensslSample >= 0,
              killAt > 0, restartAt > killAt, restartAt < 1, (releasePerSecond ?? 1) > 0
        else { throw BenchmarkError("sizes must be positive and 0 < kill point < restart point < 100 %") }
        let work = try SoakWorkDirectory(keep: keepDirectory)
        defer { work.cleanUp() }
        let scratch = try ScratchDatabase(near: base, purpose: "soak")
        var dropScratch = keepDirectory == nil
        defer { if dropScratch { scratch.drop() } else { scratch.close() } }
        let c = try scratch.migratedConnection(progress: log)
        defer { c.close() }

        var result = SoakResult(parameters: self, database: scratch.name)
        result.loadAverageStart = BenchClock.loadAverage()
        result.server = try c.query("SELECT version() AS v")[0].decode("v")
        for setting in ["fsync", "synchronous_commit"] {
            result.settings[setting] = try c.query("SELECT current_setting($1) AS v", [setting])[0].decode("v")
        }
        let kek = try work.keyEncryptionKey()
        _ = try work.auditKey()
        try createAuthority(kek: kek, on: c)
        log(generatedKeys ? "preparing \(jobs) ISSUE_CERT jobs (certbus generates the ECDSA P-256 keys)"
                          : "generating \(jobs) ECDSA P-256 CSRs")
        try enqueue(try makePayloads(), on: c)
        log("enqueued \(jobs) ISSUE_CERT jobs in \(scratch.name)")

        let logOffset = serverLogFile.flatMap { try? FileManager.default.attributesOfItem(atPath: $0)[.size] as? Int } ?? 0
        let run = try SoakRun(benchmark: self, url: scratch.connectionString, work: work, monitor: c)
        try run.execute(into: &result)
        try verify(url: scratch.connectionString, work: work, kek: kek, serverLogOffset: logOffset, run: run, on: c, into: &result)
        result.loadAverageEnd = BenchClock.loadAverage()
        result.passed = !result.checks.isEmpty && result.checks.allSatisfy(\.passed)
        if keepDirectory != nil {
            dropScratch = false
            result.keptDatabaseURL = scratch.connectionString
            result.keptDirectory = work.path
        }
        return result
    }
}

/// How a soak restarts PostgreSQL: a description for the report and the action, or nil when the
/// restart is skipped (then `description` says why).
public struct SoakRestart: Sendable {
    /// "fast shutdown and start of the embedded cluster", "restart command: ...", or why not.
    public var description: String
    /// Stops and starts the server; nil skips the restart.
    public var perform: (@Sendable () throws -> Void)?

    /// A restart done by `perform`.
    public init(_ description: String, perform: (@Sendable () throws -> Void)?) {
        self.description = description
        self.perform = perform
    }

    /// A restart by a shell command (`/bin/sh -c`), which must exit 0 within two minutes.
    public static func command(_ command: String) -> SoakRestart {
        SoakRestart("restart command: \(command)") {
            let process = try BenchProcess("/bin/sh", ["-c", command])
            guard let status = process.wait(timeout: 120) else {
                process.stop()
                throw BenchmarkError("the restart command did not finish within 120 s: \(process.log)")
            }
            guard status == 0 else { throw BenchmarkError("the restart command exited with status \(status): \(process.log)") }
        }
    }
}

/// Something that happened during the run, at a time (seconds since the workers started) and a
/// progress (jobs done then).
public struct SoakEvent: Sendable, Equatable, Codable {
    public var seconds: Double
    public var done: Int
    public var what: String
}

/// What a soak run found.
public struct SoakResult: Sendable, Encodable {
    /// Jobs, workers, concurrency, lease, fault points, key source, restart method.
    public var jobs: Int
    public var workers: Int
    public var concurrency: Int
    public var leaseSeconds: Double
    public var killAtPercent: Int
    public var restartAtPercent: Int
    public var generatedKeys: Bool
    /// Jobs made due per second (nil: all due at the start); the certificates/s figure is then bounded by it.
    public var releasePerSecond: Double?
    /// Whether PostgreSQL is restarted, and how (or why not).
    public var restarts: Bool
    public var restart: String
    /// The scratch database, the server and its durability settings.
    public var database: String
    public var server = ""
    public var settings: [String: String] = [:]
    /// What happened when, faults included.
    public var timeline: [SoakEvent] = []
    /// Every check, in report order.
    public var checks: [SoakCheck] = []
    /// Seconds from the first claim to the last completion (database clock), and the rate.
    public var seconds = 0.0
    public var certificatesPerSecond = 0.0
    /// Peak resident memory of each worker (VmHWM), bytes, by role.
    public var workerPeakRSS: [String: Int] = [:]
    /// ISSUE_CERT attempts completed by each worker after the restart (proof they reconnected).
    public var completedAfterRestart: [String: Int] = [:]
    /// Attempts that did not succeed, by outcome and error (see ``SoakObservations/unsuccessfulAttempts``).
    public var unsuccessfulAttempts: [String: Int] = [:]
    /// 1-minute load average before and after.
    public var loadAverageStart: Double?
    public var loadAverageEnd: Double?
    /// With `--keep`: the scratch database's URL and the folder with keys and logs.
    public var keptDatabaseURL: String?
    public var keptDirectory: String?

    /// True when every check passed (set once the checks ran).
    public var passed = false

    init(parameters p: SoakBenchmark, database: String) {
        jobs = p.jobs
        workers = p.workers
        concurrency = p.concurrency
        leaseSeconds = p.leaseSeconds
        killAtPercent = Int((p.killAt * 100).rounded())
        restartAtPercent = Int((p.restartAt * 100).rounded())
        generatedKeys = p.generatedKeys
        releasePerSecond = p.releasePerSecond
        restarts = p.restart.perform != nil
        restart = p.restart.description
        self.database = database
    }

    enum CodingKeys: String, CodingKey {
        case jobs, workers, concurrency, leaseSeconds = "lease_seconds", killAtPercent = "kill_at_percent"
        case restartAtPercent = "restart_at_percent", generatedKeys = "generated_keys", releasePerSecond = "release_per_second", restarts, restart, database, server, settings
        case timeline, checks, seconds, certificatesPerSecond = "certificates_per_second", workerPeakRSS = "worker_peak_rss_bytes"
        case completedAfterRestart = "completed_after_restart", unsuccessfulAttempts = "unsuccessful_attempts", loadAverageStart = "load_average_start"
        case loadAverageEnd = "load_average_end", keptDatabaseURL = "kept_database_url", keptDirectory = "kept_directory", passed
    }
}
