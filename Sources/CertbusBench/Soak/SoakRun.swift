import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// When the faults of a soak are due: pure, so the schedule is tested without processes.
public struct SoakFaultPlan: Sendable, Equatable {
    /// Fractions of the jobs done at which a worker is killed and the server restarted (nil: no restart).
    public var killAt: Double
    public var restartAt: Double?

    /// A plan with these points.
    public init(killAt: Double, restartAt: Double?) {
        self.killAt = killAt
        self.restartAt = restartAt
    }

    /// A fault to inject.
    public enum Fault: Sendable, Equatable { case killWorker, restartServer }

    /// The next fault due with `done` of `total` jobs finished and the faults so far `injected`:
    /// the kill first, the restart only after it.
    public func due(done: Int, total: Int, injected: [Fault]) -> Fault? {
        if !injected.contains(.killWorker) { return Double(done) >= killAt * Double(total) ? .killWorker : nil }
        if let restartAt, !injected.contains(.restartServer), Double(done) >= restartAt * Double(total) { return .restartServer }
        return nil
    }
}

/// The run phase of a soak: the processes started, the faults injected on schedule, the wait for
/// the queue to drain and the sealer to seal, the processes stopped.
final class SoakRun {
    let benchmark: SoakBenchmark
    let fleet: SoakFleet
    let monitor: Connection
    private var start = DispatchTime.now()
    private var timeline: [SoakEvent] = []
    private var done = 0
    /// When the server came back (database clock), nil without a restart.
    private(set) var restartedAt: Date?
    /// Audit rows the sealer had not sealed when the run stopped waiting for it.
    private(set) var unsealedAfterWait = 0
    /// Whether the faults hit while jobs were still open, and why not.
    private(set) var faultProblems: [String] = []

    init(benchmark: SoakBenchmark, url: String, work: SoakWorkDirectory, monitor: Connection) throws {
        self.benchmark = benchmark
        self.monitor = monitor
        fleet = SoakFleet(
            executable: benchmark.executable, url: url, directory: work.path, environment: work.environment,
            workerArguments: ["--concurrency", String(benchmark.concurrency), "--lease", String(benchmark.leaseSeconds),
                              "--rescue-interval", "1", "--poll-interval", "1", "--grace", "10"])
    }

    private func event(_ what: String) {
        timeline.append(SoakEvent(seconds: BenchClock.seconds(since: start), done: done, what: what))
        benchmark.log(String(format: "+%6.1f s  %@", BenchClock.seconds(since: start), what))
    }

    /// Runs until no ISSUE_CERT job is QUEUED or RUNNING (or a process dies, or the timeout passes).
    func execute(into result: inout SoakResult) throws {
        let total = benchmark.jobs
        if let rate = benchmark.releasePerSecond { try stagger(perSecond: rate) }
        let scheduler = try fleet.startScheduler()
        let workers = try (0..<benchmark.workers).map { _ in try fleet.startWorker() }
        start = DispatchTime.now()
        event("started \(workers.count) workers (pids \(workers.map { String($0.process.pid) }.joined(separator: ", "))) and the scheduler (pid \(scheduler.process.pid))")
        let plan = SoakFaultPlan(killAt: benchmark.killAt, restartAt: benchmark.restart.perform == nil ? nil : benchmark.restartAt)
        if benchmark.restart.perform == nil { event("no PostgreSQL restart: \(benchmark.restart.description)") }
        var injected: [SoakFaultPlan.Fault] = []
        while true {
            if let counts = try? counts() {
                done = counts.done
                benchmark.progress(done, total, BenchClock.seconds(since: start))
                if let fault = plan.due(done: done, total: total, injected: injected) {
                    injected.append(fault)
                    if counts.open == 0 { faultProblems.append("the \(fault == .killWorker ? "kill" : "restart") came after the last job finished") }
                    switch fault {
                    case .killWorker: try killWorker()
                    case .restartServer: try restartServer()
                    }
                    continue
                }
                if counts.open == 0 {
                    event("no ISSUE_CERT job left QUEUED or RUNNING (\(counts.done) SUCCESS, \(counts.ended) FAILED or CANCELLED)")
                    break
                }
            } else {
                try? monitor.reconnect()
            }
            fleet.sampleMemory()
            if let exit = fleet.unexpectedExit() {
                event("stopped waiting: \(exit)")
                faultProblems.append(exit)
                break
            }
            if BenchClock.seconds(since: start) > benchmark.timeout {
                event("stopped waiting: timeout of \(Int(benchmark.timeout)) s")
                break
            }
            usleep(100_000)
        }
        for fault in [SoakFaultPlan.Fault.killWorker, .restartServer] where !injected.contains(fault) {
            if fault == .restartServer && plan.restartAt == nil { continue }
            faultProblems.append("the \(fault == .killWorker ? "kill" : "restart") never happened")
        }
        try waitForSeal()
        fleet.stopAll(grace: 10)
        for member in fleet.members where !member.killed && member.exitStatus != 0 {
            faultProblems.append("\(member.role) exited with status \(member.exitStatus.map(String.init) ?? "?") after SIGTERM")
        }
        event("stopped the workers and the scheduler (SIGTERM)")
        try record(into: &result)
    }

    /// Makes the queued ISSUE_CERT jobs due one after another, `perSecond` of them per second from now.
    private func stagger(perSecond rate: Double) throws {
        try monitor.execute(
            """
            UPDATE certbus.jobs j SET run_at = now() + (o.n - 1) / $1::float8 * interval '1 second'
              FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM certbus.jobs WHERE kind = 'ISSUE_CERT' AND status = 'QUEUED') o
             WHERE j.id = o.id
            """, [rate])
        event(String(format: "jobs made due at %.0f per second (over %.1f s)", rate, Double(benchmark.jobs) / rate))
    }

    private struct Counts { var done: Int, ended: Int, open: Int }

    private func counts() throws -> Counts {
        let row = try monitor.query(
            """
            SELECT count(*) FILTER (WHERE status = 'SUCCESS') AS done, count(*) FILTER (WHERE status IN ('FAILED', 'CANCELLED')) AS ended,
                   count(*) FILTER (WHERE status IN ('QUEUED', 'RUNNING')) AS open
              FROM certbus.jobs WHERE kind = 'ISSUE_CERT'
            """)[0]
        return Counts(done: try row.decode("done"), ended: try row.decode("ended"), open: try row.decode("open"))
    }

    private func killWorker() throws {
        let live = fleet.liveWorkers
        guard let victim = live.count > 1 ? live[1] : live.first else { throw BenchmarkError("no worker left to kill") }
        let held: Int = (try? monitor.query(
            "SELECT count(*) AS n FROM certbus.jobs WHERE status = 'RUNNING' AND locked_by LIKE $1", ["%:\(victim.process.pid):%"]
        )[0].decode("n")) ?? -1
        fleet.kill(victim)
        event("SIGKILL \(victim.role) (pid \(victim.process.pid)) holding \(held) RUNNING job(s)")
        if benchmark.restart.perform == nil { try startReplacement() }
    }

    private func startReplacement() throws {
        let replacement = try fleet.startWorker()
        event("started \(replacement.role) (pid \(replacement.process.pid)) to replace the killed one")
    }

    private func restartServer() throws {
        guard let perform = benchmark.restart.perform else { return }
        event("restarting PostgreSQL: \(benchmark.restart.description)")
        let began = DispatchTime.now()
        do {
            try perform()
        } catch {
            event("PostgreSQL restart failed: \(error)")
            throw BenchmarkError("the PostgreSQL restart failed: \(error)")
        }
        let deadline = Date().addingTimeInterval(60)
        while true {
            do {
                try monitor.reconnect()
                restartedAt = try monitor.query("SELECT now() AS t")[0].decode("t", as: Date.self)
                break
            } catch {
                if Date() > deadline { throw BenchmarkError("PostgreSQL did not accept connections within 60 s of the restart: \(error)") }
                usleep(200_000)
            }
        }
        event(String(format: "PostgreSQL is back after %.1f s", BenchClock.seconds(since: began)))
        try startReplacement()
    }

    /// Waits (up to 120 s) until the scheduler's sealer has sealed every audit row.
    private func waitForSeal() throws {
        let began = DispatchTime.now()
        while true {
            let unsealed: Int = try monitor.query("SELECT count(*) AS n FROM certbus.audit_log WHERE chain_position IS NULL")[0].decode("n")
            unsealedAfterWait = unsealed
            if unsealed == 0 {
                event(String(format: "the scheduler's sealer has sealed every audit row (waited %.1f s)", BenchClock.seconds(since: began)))
                return
            }
            if BenchClock.seconds(since: began) > 120 {
                event("\(unsealed) audit row(s) still unsealed after 120 s")
                return
            }
            usleep(200_000)
        }
    }

    private func record(into result: inout SoakResult) throws {
        result.timeline = timeline
        for member in fleet.members where member.isWorker { result.workerPeakRSS[member.role] = member.peakRSS }
        let row = try monitor.query(
            """
            SELECT extract(epoch FROM (SELECT max(completed_at) FROM certbus.jobs WHERE kind = 'ISSUE_CERT')
                                    - (SELECT min(started_at) FROM certbus.job_attempts WHERE kind = 'ISSUE_CERT'))::float8 AS seconds,
                   (SELECT count(*) FROM certbus.jobs WHERE kind = 'ISSUE_CERT' AND status = 'SUCCESS') AS done
            """)[0]
        result.seconds = (try row.decode("seconds", as: Double?.self)) ?? 0
        let succeeded: Int = try row.decode("done")
        result.certificatesPerSecond = result.seconds > 0 ? Double(succeeded) / result.seconds : 0
        guard let restartedAt else { return }
        let byWorker = try monitor.query(
            """
            SELECT split_part(worker_id, ':', 2) AS pid, count(*) AS n FROM certbus.job_attempts
             WHERE kind = 'ISSUE_CERT' AND outcome = 'SUCCESS' AND finished_at >= $1 GROUP BY 1
            """, [restartedAt])
        var counts: [String: Int] = [:]
        for r in byWorker { counts[try r.decode("pid", as: String.self)] = try r.decode("n") }
        for member in fleet.members where member.isWorker && !member.killed {
            result.completedAfterRestart[member.role] = counts[String(member.process.pid), default: 0]
        }
    }

    /// The faults check: both faults hit a queue with jobs open, and every process not killed on
    /// purpose stayed up and stopped cleanly.
    var faultCheck: SoakCheck {
        let kill = timeline.first { $0.what.hasPrefix("SIGKILL") }
        let back = timeline.first { $0.what.hasPrefix("PostgreSQL is back") }
        var detail = kill.map { String(format: "worker killed at %.1f s (%d done)", $0.seconds, $0.done) } ?? "no worker killed"
        if benchmark.restart.perform == nil {
            detail += "; no PostgreSQL restart (\(benchmark.restart.description))"
        } else {
            detail += back.map { String(format: "; PostgreSQL restarted at %.1f s (%d done)", $0.seconds, $0.done) } ?? "; PostgreSQL not restarted"
        }
        detail += "; other processes stopped cleanly"
        return SoakCheck("faults", passed: faultProblems.isEmpty, detail: faultProblems.isEmpty ? detail : "faults did not go as planned",
                         examples: faultProblems)
    }
}
