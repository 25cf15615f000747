import CertbusCore
import CertbusMetrics
import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// Runs jobs: claims them in batches, runs their handlers on `concurrency` threads, and
/// records the results — a `CertbusService` that scales out by starting more processes.
///
/// Threads (none on Swift's cooperative pool):
/// - a listener (`NotificationListener` on `certbus_jobs`) that wakes the claim loop when
///   jobs are enqueued, and after a reconnect (notifications may have been missed);
/// - the claim loop: claims as many due jobs as there is free capacity, in one statement
///   (`JobQueue.claim`), and when it finds fewer than it asked for sleeps until woken or
///   until the safety poll (`pollInterval`);
/// - `concurrency` executor threads running handlers;
/// - the attempt recorder: records results of jobs without a `commit` closure in batches
///   and extends leases of running jobs (heartbeats). Jobs whose completion has a
///   `commit` closure finish in their own transaction on their executor thread.
///
/// Every change to a claimed job is fenced on (status RUNNING, this worker, the claimed
/// attempt), so a job the rescuer took back from this worker can never be finished by it.
public final class Worker: CertbusService, @unchecked Sendable {
    public let name = "worker"
    /// This worker's id (`host:pid:n`), stored in `jobs.locked_by` while it holds a job.
    public let id: String
    /// The options it runs with.
    public let options: WorkerOptions
    /// What this worker did, for the metrics endpoint (`metricFamilies()`).
    public let metrics: WorkerMetrics
    private let configuration: ConnectionConfiguration
    let registry: HandlerRegistry
    private let servedKinds: [JobKind]
    let log: ServiceLog
    let pool: ConnectionPool
    let running = RunningJobs()
    let ready = ReadyQueue<WorkItem>()
    let recorder: AttemptRecorder
    private let claimConnection: ResilientConnection
    private var listener: NotificationListener?
    private var maintenance: Scheduler?

    let condition = NSCondition()
    private var started = false
    var stopping = false
    private var wakeRequested = true
    /// Work items claimed and not yet finished by an executor (a batch counts once).
    var inFlight = 0
    /// Extra jobs the next claim may ask for (claim thread only): see `WorkItem.batchSlack`.
    private var batchSlack = 0
    var waitingForCapacity = false
    var executing: [Int64: ClaimedJob] = [:]
    var claimStatistics = WorkerStatistics()
    private var handedBack = 0
    private let claimLoopFinished = DispatchSemaphore(value: 0)

    nonisolated(unsafe) private static var counter = 0
    private static let counterLock = NSLock()

    /// A worker for the handlers in `handlers`. Throws when `options` ask for kinds that
    /// have no handler, or for nothing at all.
    public init(
        configuration: ConnectionConfiguration, handlers: HandlerRegistry, options: WorkerOptions = WorkerOptions(),
        log: ServiceLog = .standardError()
    ) throws {
        let available = Set(handlers.kinds)
        if let asked = options.kinds {
            let missing = asked.filter { !available.contains($0) }
            guard missing.isEmpty else {
                throw JobQueueError(
                    .invalidArgument,
                    "this worker has no handler for \(missing.map(\.rawValue).joined(separator: ", ")) (it can run: \(handlers.kinds.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        let kinds = options.kinds ?? handlers.kinds
        guard !kinds.isEmpty else { throw JobQueueError(.invalidArgument, "a worker needs at least one kind to run") }
        guard options.concurrency >= 1 else { throw JobQueueError(.invalidArgument, "concurrency must be at least 1") }
        guard !options.queues.isEmpty else { throw JobQueueError(.invalidArgument, "a worker needs at least one queue") }
        guard options.leaseSeconds > 0, options.pollInterval > 0 else {
            throw JobQueueError(.invalidArgument, "the lease and the poll interval must be positive")
        }
        Self.counterLock.lock()
        Self.counter += 1
        let n = Self.counter
        Self.counterLock.unlock()
        self.id = "\(options.name ?? Self.hostName()):\(getpid()):\(n)"
        self.options = options
        self.registry = handlers
        self.servedKinds = kinds
        self.metrics = WorkerMetrics(kinds: kinds.map(\.rawValue))
        self.log = log
        let workerConfiguration = configuration.with(applicationName: "certbus-worker")
        self.configuration = workerConfiguration
        self.pool = ConnectionPool(configuration: workerConfiguration, maximumConnections: options.concurrency + 1)
        // Claims commit without waiting for the disk: a claim lost in a server crash leaves the job
        // QUEUED (its attempt uncounted) — the same as a worker that died before starting it — and any
        // later synchronous commit of this worker (a completion) flushes the claim with it.
        self.claimConnection = ResilientConnection(
            configuration: workerConfiguration, setup: ["SET synchronous_commit TO off"])
        self.recorder = AttemptRecorder(
            configuration: workerConfiguration, workerId: id, running: running, leaseSeconds: options.leaseSeconds,
            heartbeatInterval: options.effectiveHeartbeatInterval, log: log, logName: "worker")
        recorder.onFlushed = { [weak self] in
            guard let self else { return }
            self.condition.lock()
            self.condition.broadcast()
            self.condition.unlock()
        }
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count - 1)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What the worker did so far.
    public var statistics: WorkerStatistics {
        var s = recorder.counters
        condition.lock()
        s.claimed = claimStatistics.claimed
        s.claims = claimStatistics.claims
        s.succeeded += claimStatistics.succeeded
        s.failed += claimStatistics.failed
        s.discarded += claimStatistics.discarded
        s.handedBack = handedBack
        condition.unlock()
        return s
    }

    /// Jobs held now: claimed and not yet finished (running, or waiting for an executor).
    public var inFlightCount: Int {
        running.count
    }

    /// This worker's Prometheus series: jobs in flight, concurrency, claims, refused results,
    /// hand-backs, attempts and failures by kind, and the attempt duration histogram.
    public func metricFamilies() -> [MetricFamily] {
        metrics.families(inFlight: inFlightCount, concurrency: options.concurrency, statistics: statistics)
    }

    /// Starts listening, claiming and running; returns at once.
    public func start() throws {
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        recorder.start()
        let listener = NotificationListener(configuration: configuration, channels: [JobQueue.channel]) {
            [weak self] event in
            self?.listenerEvent(event)
        }
        self.listener = listener
        listener.start()
        for i in 0..<options.concurrency {
            let thread = Thread { [self] in self.executorLoop() }
            thread.name = "certbus-executor-\(i + 1)"
            thread.stackSize = 1 << 20
            thread.start()
        }
        let claimThread = Thread { [self] in self.claimLoop() }
        claimThread.name = "certbus-claim"
        claimThread.stackSize = 1 << 20
        claimThread.start()
        if options.runsMaintenance {
            let scheduler = JobMaintenance.scheduler(
                configuration: configuration,
                rescuer: JobRescuer(interval: options.rescueInterval, backoff: options.backoff),
                retention: JobRetention(policy: options.retention),
                leadershipCheckInterval: options.maintenanceLeadershipInterval, log: log)
            maintenance = scheduler
            try scheduler.start()
        }
        log(.info, name, "\(id) started: \(options.concurrency) threads, queues \(options.queues.joined(separator: ",")), kinds \(servedKinds.map(\.rawValue).joined(separator: ","))")
    }

    /// Asks the claim loop to look for work now.
    public func wake() {
        condition.lock()
        wakeRequested = true
        condition.broadcast()
        condition.unlock()
    }

    private func listenerEvent(_ event: ListenerEvent) {
        switch event {
        case .notification(let n):
            if n.payload.isEmpty || options.queues.contains(n.payload) { wake() }
        case .listening(let resumed):
            if resumed { log(.info, name, "listening again after a reconnect; looking for missed jobs") }
            wake()
        case .disconnected(let reason):
            log(.warning, name, "notification listener disconnected: \(reason); polling until it is back")
        }
    }

    // MARK: - Claim loop

    private func claimLoop() {
        defer { claimLoopFinished.signal() }
        var idleUntil: Date? = nil
        while true {
            // Back-pressure: never run more than a couple of thousand results ahead of the recorder,
            // so memory stays bounded when the database records results slower than handlers finish
            // (large flushes are what make recording cheap, so the bound is generous).
            let backlogLimit = max(2000, 4 * options.concurrency)
            condition.lock()
            while !stopping
                && (inFlight >= options.concurrency || recorder.backlog >= backlogLimit
                    || (!wakeRequested && idleUntil.map { Date() < $0 } == true))
            {
                if inFlight >= options.concurrency || recorder.backlog >= backlogLimit {
                    waitingForCapacity = true
                    _ = condition.wait(until: Date().addingTimeInterval(0.05))
                    waitingForCapacity = false
                } else if let until = idleUntil {
                    _ = condition.wait(until: until)
                }
            }
            if stopping {
                condition.unlock()
                return
            }
            let limit = min(options.concurrency - inFlight + batchSlack, options.maximumClaimBatch)
            wakeRequested = false
            condition.unlock()

            let claimed: [ClaimedJob]
            do {
                claimed = try claimConnection.use {
                    try JobQueue.claim(
                        on: $0, workerId: id, limit: limit, queues: options.queues, kinds: servedKinds,
                        leaseSeconds: options.leaseSeconds, maximumRunTimes: registry.maximumRunTimes)
                }
            } catch {
                log(.warning, name, "claiming jobs failed: \(error)")
                let delay = claimConnection.nextRetryDelay()
                idleUntil = Date().addingTimeInterval(delay)
                condition.lock()
                wakeRequested = false
                condition.unlock()
                continue
            }
            for job in claimed {
                running.add(job, maximumRunTime: registry.handler(for: job.job.kind)?.maximumRunTime ?? 300)
            }
            let items = WorkItem.group(claimed, handlers: registry)
            batchSlack = WorkItem.batchSlack(after: items)
            condition.lock()
            inFlight += items.count
            claimStatistics.claimed += claimed.count
            claimStatistics.claims += 1
            condition.unlock()
            if !items.isEmpty { ready.put(items) }
            idleUntil = claimed.count < limit ? Date().addingTimeInterval(options.pollInterval) : nil
        }
    }

    // MARK: - Shutdown

    /// Stops claiming, hands back claimed jobs that have not started, lets running handlers
    /// finish for up to `grace` seconds, then tells the rest to stop (`isCancelled`) and hands
    /// them back too — QUEUED again without counting the attempt — and records every result
    /// that came in.
    public func stop(grace: Double) {
        condition.lock()
        guard started, !stopping else {
            condition.unlock()
            return
        }
        stopping = true
        condition.broadcast()
        condition.unlock()
        claimLoopFinished.wait()
        listener?.stop()

        let notStarted = ready.close()
        handBack(notStarted.flatMap(\.jobs))
        condition.lock()
        inFlight -= notStarted.count
        let deadline = Date().addingTimeInterval(max(0, grace))
        while !executing.isEmpty && Date() < deadline {
            _ = condition.wait(until: deadline)
        }
        let leftovers = Array(executing.values)
        condition.unlock()
        if !leftovers.isEmpty {
            log(.warning, name, "\(leftovers.count) jobs still running after the \(grace)s grace period; telling them to stop and handing them back")
            // Hand back first, then tell the handlers: a handler that stops at once must not get its
            // failure recorded (and counted) before the hand-back. Results already waiting in the
            // recorder are recorded by its final flush.
            let flags = leftovers.compactMap { running.cancelFlag($0.job.id) }
            handBack(leftovers)
            flags.forEach { $0.set() }
        }
        recorder.stop(timeout: max(5, options.leaseSeconds))
        maintenance?.stop(grace: 5)
        pool.close()
        claimConnection.close()
        log(.info, name, "\(id) stopped")
    }

    private func handBack(_ jobs: [ClaimedJob]) {
        guard !jobs.isEmpty else { return }
        let connection = ResilientConnection(configuration: configuration)
        defer { connection.close() }
        do {
            let n = try connection.use {
                try JobQueue.handBack(on: $0, workerId: id, jobs: jobs.map { ($0.job.id, $0.job.attempt) })
            }
            running.remove(jobs.map(\.job.id))
            condition.lock()
            handedBack += n
            condition.unlock()
            log(.info, name, "handed back \(n) jobs")
        } catch {
            log(.error, name, "could not hand back \(jobs.count) jobs (\(error)); the rescuer will requeue them when their leases expire")
        }
    }
}
