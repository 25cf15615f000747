import Foundation

/// The jobs a worker holds (claimed and not yet recorded as finished), with their cancel
/// flags. Heartbeats extend exactly these leases.
final class RunningJobs: @unchecked Sendable {
    struct Entry {
        var claimed: ClaimedJob
        var cancel: Flag
        var maximumRunTime: Double
        /// Local monotonic deadline after which the handler is told to stop.
        var deadline: DispatchTime
    }

    private let lock = NSLock()
    private var entries: [Int64: Entry] = [:]

    func add(_ claimed: ClaimedJob, maximumRunTime: Double) {
        let entry = Entry(
            claimed: claimed, cancel: Flag(), maximumRunTime: maximumRunTime,
            deadline: .now() + maximumRunTime)
        lock.lock()
        entries[claimed.job.id] = entry
        lock.unlock()
    }

    func cancelFlag(_ id: Int64) -> Flag? {
        lock.lock()
        defer { lock.unlock() }
        return entries[id]?.cancel
    }

    func remove(_ ids: some Sequence<Int64>) {
        lock.lock()
        for id in ids { entries.removeValue(forKey: id) }
        lock.unlock()
    }

    /// The leases to extend; also raises the cancel flag of jobs past their maximum run time.
    func heldJobs() -> [HeldJob] {
        lock.lock()
        defer { lock.unlock() }
        let now = DispatchTime.now()
        return entries.values.map { entry in
            if entry.deadline < now { entry.cancel.set() }
            return HeldJob(jobId: entry.claimed.job.id, attempt: entry.claimed.job.attempt, maximumRunTime: entry.maximumRunTime)
        }
    }

    /// Raises the cancel flag of these jobs.
    func cancel(_ ids: some Sequence<Int64>) {
        lock.lock()
        for id in ids { entries[id]?.cancel.set() }
        lock.unlock()
    }

    /// Every held job, for hand-back at shutdown.
    func all() -> [ClaimedJob] {
        lock.lock()
        defer { lock.unlock() }
        return entries.values.map(\.claimed)
    }

    /// The subset of `ids` still held.
    func stillHeld(_ ids: Set<Int64>) -> Set<Int64> {
        lock.lock()
        defer { lock.unlock() }
        return ids.filter { entries[$0] != nil }
    }

    var count: Int {
        lock.lock()
        defer { lock.unlock() }
        return entries.count
    }
}

/// Claimed jobs waiting for an executor thread.
final class ReadyQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [ClaimedJob] = []
    private var head = 0
    private var closed = false

    func put(_ new: [ClaimedJob]) {
        condition.lock()
        jobs.append(contentsOf: new)
        if new.count == 1 { condition.signal() } else { condition.broadcast() }
        condition.unlock()
    }

    /// The next job, or nil once closed.
    func take() -> ClaimedJob? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !closed { condition.wait() }
        if closed && head == jobs.count { return nil }
        let job = jobs[head]
        head += 1
        if head == jobs.count {
            jobs.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 256 && head * 2 >= jobs.count {
            // Under steady load the queue may never run empty: drop the taken prefix now and then.
            jobs.removeFirst(head)
            head = 0
        }
        return job
    }

    /// Closes the queue and returns the jobs no executor has taken.
    func close() -> [ClaimedJob] {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        let left = Array(jobs[head...])
        jobs.removeAll()
        head = 0
        condition.broadcast()
        return left
    }
}
