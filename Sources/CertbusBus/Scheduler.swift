import Foundation
import Postgres

/// The outcome of one run of a periodic task, kept for status displays.
public struct TaskRun: Sendable, Equatable {
    /// The task's name.
    public var task: String
    /// When the run started and finished (this process's clock; for display only).
    public var startedAt: Date
    public var finishedAt: Date
    /// The task's summary line, nil when it failed.
    public var summary: String?
    /// The error it threw, nil when it succeeded.
    public var error: String?
}

/// Runs periodic tasks while holding a `Leadership`, so that across every
/// process of the deployment each task runs in one place at a time.
///
/// One thread; tasks run one after another on the leadership's own connection
/// (so a task's statements fail if the leadership's connection is gone). When
/// the scheduler becomes leader it runs every task at once, then each one every
/// `interval` seconds after its previous run ended. A process that is not the
/// leader re-tries the lock every `leadershipCheckInterval` seconds, so a dead
/// leader is replaced within about that time.
public final class Scheduler: CertbusService, @unchecked Sendable {
    /// `scheduler`, or the name given at creation.
    public let name: String
    /// The tasks, in the order they run when several are due.
    public let tasks: [any PeriodicTask]
    /// The leadership this scheduler competes for.
    public let leadership: Leadership
    /// Seconds between leadership attempts while not leading, and between checks while leading.
    public let leadershipCheckInterval: Double
    private let log: ServiceLog
    private let condition = NSCondition()
    private var stopping = false
    private var running = false
    private var thread: Thread?
    private var nextRun: [String: Date] = [:]
    private var requested: Set<String> = []
    private var runs: [String: TaskRun] = [:]
    private let finished = DispatchSemaphore(value: 0)

    /// A scheduler for `tasks` competing for the leadership named `leadershipName`.
    /// Tasks must have distinct names.
    public init(
        name: String = "scheduler", configuration: ConnectionConfiguration, leadershipName: String = "scheduler",
        tasks: [any PeriodicTask], leadershipCheckInterval: Double = 5, log: ServiceLog = .standardError()
    ) {
        precondition(Set(tasks.map(\.name)).count == tasks.count, "periodic task names must be unique")
        self.name = name
        self.tasks = tasks
        self.leadership = Leadership(
            name: leadershipName, configuration: configuration.with(applicationName: "certbus-\(name)"))
        self.leadershipCheckInterval = leadershipCheckInterval
        self.log = log
    }

    /// True while this process holds the scheduler's leadership.
    public var isLeader: Bool { leadership.isLeader }

    /// The last run of each task that ran in this process.
    public func lastRuns() -> [TaskRun] {
        condition.lock()
        defer { condition.unlock() }
        return tasks.compactMap { runs[$0.name] }
    }

    /// Starts the scheduler's thread.
    public func start() throws {
        condition.lock()
        defer { condition.unlock() }
        guard thread == nil else { return }
        stopping = false
        let thread = Thread { [self] in self.loop() }
        thread.name = "certbus-\(name)"
        thread.stackSize = 1 << 20
        self.thread = thread
        running = true
        thread.start()
    }

    /// Asks for a task to run as soon as possible (if this process leads), e.g.
    /// after a NOTIFY said there is work for it. Unknown names are ignored.
    public func runSoon(_ taskName: String) {
        condition.lock()
        requested.insert(taskName)
        condition.broadcast()
        condition.unlock()
    }

    /// Stops after the task running now (if any) ends, waiting at most `grace`
    /// seconds for it, and gives up the leadership.
    public func stop(grace: Double) {
        condition.lock()
        let wasRunning = running
        stopping = true
        condition.broadcast()
        condition.unlock()
        guard wasRunning else { return }
        if finished.wait(timeout: .now() + max(0, grace)) == .timedOut {
            log(.warning, name, "a periodic task was still running after \(grace)s; leaving it")
            return
        }
        condition.lock()
        running = false
        thread = nil
        condition.unlock()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    private func loop() {
        defer {
            leadership.resign()
            finished.signal()
        }
        var wasLeader = false
        while !isStopping {
            let leading = leadership.refresh()
            if leading != wasLeader {
                log(.info, name, leading ? "became leader of '\(leadership.name)'" : "lost leadership of '\(leadership.name)'")
                wasLeader = leading
                condition.lock()
                nextRun = [:]  // a new leader runs everything at once
                condition.unlock()
            }
            var wakeAt = Date().addingTimeInterval(leadershipCheckInterval)
            if leading {
                for task in tasks where !isStopping && isDue(task) {
                    runOnce(task)
                    if !leadership.isLeader { break }
                }
                if let soonest = soonestRun(), soonest < wakeAt { wakeAt = soonest }
            }
            condition.lock()
            while !stopping && requested.isEmpty && Date() < wakeAt {
                _ = condition.wait(until: wakeAt)
            }
            condition.unlock()
        }
    }

    private func isDue(_ task: any PeriodicTask) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        if requested.contains(task.name) { return true }
        guard let next = nextRun[task.name] else { return true }
        return next <= Date()
    }

    private func soonestRun() -> Date? {
        condition.lock()
        defer { condition.unlock() }
        if !requested.isEmpty { return Date() }
        return tasks.compactMap { nextRun[$0.name] }.min()
    }

    private func runOnce(_ task: any PeriodicTask) {
        condition.lock()
        requested.remove(task.name)
        condition.unlock()
        let started = Date()
        var record = TaskRun(task: task.name, startedAt: started, finishedAt: started, summary: nil, error: nil)
        do {
            let summary = try leadership.whileLeading { try task.run($0) }
            guard let summary else { return }  // lost the leadership just before
            record.summary = summary
            log(.debug, name, "\(task.name): \(summary)")
        } catch {
            record.error = String(describing: error)
            log(.error, name, "\(task.name) failed: \(error)")
        }
        record.finishedAt = Date()
        condition.lock()
        runs[task.name] = record
        nextRun[task.name] = Date().addingTimeInterval(max(0.01, task.interval))
        condition.unlock()
    }
}
