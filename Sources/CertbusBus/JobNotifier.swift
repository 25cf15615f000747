import Foundation
import Postgres

/// Wakes idle workers after jobs were enqueued with the in-transaction NOTIFY deferred
/// (`certbus.defer_job_notify = on`), sending at most one `NOTIFY certbus_jobs` per queue
/// every `interval` seconds from its own session.
///
/// Why: PostgreSQL serialises the commits of all transactions that sent a NOTIFY (a
/// cluster-wide lock held until the commit record is on disk), so many concurrent
/// single-job enqueuers that each notify in their own transaction queue up behind one
/// another's disk flushes. This notifier sends from a separate session whose commits do
/// not wait for the disk (`synchronous_commit = off`), so the lock is held only for
/// microseconds, and debounces: the first enqueue after a quiet period is announced at
/// once (leading edge) and a burst yields one more notification at the end of the
/// interval (trailing edge), so a job never waits for the safety poll.
public final class JobNotifier: @unchecked Sendable {
    private let connection: ResilientConnection
    /// Minimum seconds between two notifications.
    public let interval: Double
    private let condition = NSCondition()
    private var pending = Set<String>()
    private var lastSent = Date.distantPast
    private var stopped = false
    private var started = false
    private var sentCount = 0
    private let finished = DispatchSemaphore(value: 0)

    /// A notifier on its own connection; its thread starts with the first `notify`.
    public init(configuration: ConnectionConfiguration, interval: Double = 0.005) {
        self.connection = ResilientConnection(
            configuration: configuration.with(applicationName: "certbus-notifier"), setup: ["SET synchronous_commit TO off"])
        self.interval = interval
    }

    /// Announces that jobs of `queues` were committed. Returns at once; the notification is
    /// sent by the notifier's thread.
    public func notify(queues: some Sequence<String>) {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return }
        pending.formUnion(queues)
        if !started {
            started = true
            let thread = Thread { [self] in self.loop() }
            thread.name = "certbus-notifier"
            thread.stackSize = 512 * 1024
            thread.start()
        }
        condition.signal()
    }

    /// Notifications sent so far (each may cover several queues).
    public var sent: Int {
        condition.lock()
        defer { condition.unlock() }
        return sentCount
    }

    /// Sends what is pending and stops the thread.
    public func close() {
        condition.lock()
        stopped = true
        let wasStarted = started
        condition.signal()
        condition.unlock()
        if wasStarted { finished.wait() }
        connection.close()
    }

    private func loop() {
        defer { finished.signal() }
        while true {
            condition.lock()
            while pending.isEmpty && !stopped { condition.wait() }
            if pending.isEmpty && stopped {
                condition.unlock()
                return
            }
            let earliest = lastSent.addingTimeInterval(interval)
            while !stopped && Date() < earliest { _ = condition.wait(until: earliest) }
            let queues = pending.sorted()
            pending.removeAll()
            lastSent = Date()
            condition.unlock()
            do {
                try connection.use { c in
                    _ = try c.query("SELECT pg_notify($1, q) FROM unnest($2::text[]) AS q", [JobQueue.channel, queues])
                }
                condition.lock()
                sentCount += 1
                condition.unlock()
            } catch {
                // Workers still find the jobs with their safety poll; try again with the next enqueue.
            }
        }
    }
}

/// Enqueues in short transactions of its own on a pool, deferring the NOTIFY to a shared
/// `JobNotifier`: the high-rate enqueue path. (To enqueue inside a transaction of your
/// own, as part of a larger change, use `JobQueue.enqueue(on:)`, which notifies with the
/// transaction.)
public final class JobEnqueuer: @unchecked Sendable {
    private let pool: ConnectionPool
    /// The notifier that wakes workers after each commit.
    public let notifier: JobNotifier

    /// An enqueuer on `pool`, announcing through `notifier`.
    public init(pool: ConnectionPool, notifier: JobNotifier) {
        self.pool = pool
        self.notifier = notifier
    }

    /// Enqueues one job in its own transaction and returns its id (see `JobQueue.enqueue`).
    @discardableResult
    public func enqueue(_ job: NewJob) throws -> Int64 {
        let id = try pool.withTransaction { c -> Int64 in
            try c.execute("SET LOCAL certbus.defer_job_notify = on")
            return try JobQueue.enqueue(on: c, job)
        }
        notifier.notify(queues: [job.queue])
        return id
    }

    /// Enqueues a batch in one transaction (see `JobQueue.enqueue(on:batch:)`).
    public func enqueue(batch: [NewJob]) throws -> [Int64?] {
        let ids = try pool.withTransaction { c -> [Int64?] in
            try c.execute("SET LOCAL certbus.defer_job_notify = on")
            return try JobQueue.enqueue(on: c, batch: batch)
        }
        notifier.notify(queues: Set(batch.map(\.queue)))
        return ids
    }
}
