@testable import CertbusBus
import CertbusCore
import Foundation
import Testing

/// The worker's hand-over of claimed jobs to its executor threads (`ReadyQueue`): first in,
/// first out; wake-ups chained one at a time, so a batch of short jobs does not wake one
/// thread per job, while a batch of long jobs still gets a thread per job. No database.
@Suite struct ReadyQueueTests {
    static func jobs(_ ids: Range<Int64>) -> [ClaimedJob] {
        ids.map {
            ClaimedJob(job: Job(id: $0, kind: .noop, name: "NOOP", payload: Data("{}".utf8), attempt: 1, maxAttempts: 3,
                                triggeredBy: .system("test")),
                       workerId: "test", startedAt: Date(), leaseExpiresAt: Date().addingTimeInterval(30))
        }
    }

    /// Starts `count` executor threads that take jobs until the queue closes, running `body` on each.
    static func executors(_ queue: ReadyQueue<ClaimedJob>, count: Int, _ body: @escaping @Sendable (ClaimedJob) -> Void) -> DispatchGroup {
        let group = DispatchGroup()
        for _ in 0..<count {
            group.enter()
            Thread {
                while let job = queue.take() { body(job) }
                group.leave()
            }.start()
        }
        return group
    }

    @Test func firstInFirstOutAndCloseReturnsWhatNobodyTook() {
        let queue = ReadyQueue<ClaimedJob>()
        queue.put(Self.jobs(1..<6))
        #expect(queue.take()?.job.id == 1)
        #expect(queue.take()?.job.id == 2)
        #expect(queue.close().map(\.job.id) == [3, 4, 5])
        #expect(queue.take() == nil)
    }

    @Test func aBatchOfShortJobsWakesAtMostOneThreadPerExecutorNotOnePerJob() {
        let queue = ReadyQueue<ClaimedJob>()
        let taken = Locked<[Int64]>([])
        let group = Self.executors(queue, count: 8) { job in taken.withLock { $0.append(job.job.id) } }
        // Let every executor go idle first.
        Thread.sleep(forTimeInterval: 0.2)
        queue.put(Self.jobs(1..<1001))
        #expect(eventually { taken.current.count == 1000 })
        #expect(Set(taken.current).count == 1000)
        // Each executor was idle once: whatever the timing, a single batch wakes at most 8 of them.
        #expect(queue.wakeUpCount <= 8, "\(queue.wakeUpCount) wake-ups for one batch")
        _ = queue.close()
        group.wait()
    }

    @Test func aBatchOfLongJobsGetsOneThreadPerJob() {
        let queue = ReadyQueue<ClaimedJob>()
        // Each job waits until all eight have started: only possible if eight threads run them at once.
        let started = Locked(0)
        let group = Self.executors(queue, count: 8) { _ in
            started.withLock { $0 += 1 }
            _ = eventually(timeout: 10) { started.current == 8 }
        }
        Thread.sleep(forTimeInterval: 0.2)
        queue.put(Self.jobs(1..<9))
        #expect(eventually(timeout: 10) { started.current == 8 })
        _ = queue.close()
        group.wait()
    }

    @Test func jobsPutWhileEveryExecutorIsBusyAreTakenWhenOneFrees() {
        let queue = ReadyQueue<ClaimedJob>()
        let release = DispatchSemaphore(value: 0)
        let done = Locked(0)
        let group = Self.executors(queue, count: 2) { job in
            if job.job.id <= 2 { release.wait() }
            done.withLock { $0 += 1 }
        }
        queue.put(Self.jobs(1..<3))  // both executors now block
        Thread.sleep(forTimeInterval: 0.1)
        queue.put(Self.jobs(3..<10))  // nobody idle to wake
        release.signal()
        release.signal()
        #expect(eventually { done.current == 9 })
        _ = queue.close()
        group.wait()
    }
}
