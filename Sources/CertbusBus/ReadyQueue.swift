import Foundation

/// Work waiting for an executor thread (first in, first out): claimed jobs, or batches of them.
///
/// Wake-ups are chained, one at a time: `put` wakes one idle executor unless a wake-up is
/// already on its way, and an executor that takes a job while more are waiting wakes the next
/// idle one. Executors that are already awake take the next job without sleeping. So a batch
/// of short jobs is run by the few threads that are awake instead of waking one thread per job
/// (a wake-up costs two context switches plus lock contention, which was most of a worker's CPU
/// with trivial jobs), while a batch of long jobs still gets one thread per job: the n-th of n
/// long jobs starts after n chained wake-ups.
final class ReadyQueue<Item>: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [Item] = []
    private var head = 0
    private var closed = false
    /// Executors waiting in `take`.
    private var idle = 0
    /// A wake-up was sent and no waiter has returned from its wait since.
    private var wakePending = false
    /// Wake-ups sent so far (for tests and statistics).
    private var wakeUps = 0

    /// Appends `new` and wakes an idle executor if none is on its way already.
    func put(_ new: [Item]) {
        guard !new.isEmpty else { return }
        condition.lock()
        jobs.append(contentsOf: new)
        wakeOneIfNeeded()
        condition.unlock()
    }

    /// The next job, waiting for one; nil once the queue is closed and empty.
    func take() -> Item? {
        condition.lock()
        defer { condition.unlock() }
        while head == jobs.count && !closed {
            idle += 1
            condition.wait()
            idle -= 1
            wakePending = false
        }
        if head == jobs.count { return nil }
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
        wakeOneIfNeeded()
        return job
    }

    /// Closes the queue, wakes every executor, and returns the jobs none has taken.
    func close() -> [Item] {
        condition.lock()
        defer { condition.unlock() }
        closed = true
        let left = Array(jobs[head...])
        jobs.removeAll()
        head = 0
        condition.broadcast()
        return left
    }

    /// Jobs waiting.
    var count: Int {
        condition.lock()
        defer { condition.unlock() }
        return jobs.count - head
    }

    /// Wake-ups sent so far.
    var wakeUpCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return wakeUps
    }

    /// With the lock held: wake one idle executor when jobs wait and no wake-up is on its way.
    private func wakeOneIfNeeded() {
        guard head < jobs.count, idle > 0, !wakePending else { return }
        wakePending = true
        wakeUps += 1
        condition.signal()
    }
}
