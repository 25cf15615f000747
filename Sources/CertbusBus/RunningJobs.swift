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
