import Foundation

/// A small pool of ordinary OS threads for blocking work (libpq calls).
///
/// Swift's cooperative pool has one thread per core — two here — and a task that
/// blocks in `PQexecParams` holds one of them for a network round trip. The
/// async APIs of this module therefore hand blocking work to these threads and
/// suspend the calling task on a continuation until it is done.
final class BlockingExecutor: @unchecked Sendable {
    /// Shared by every pool in the process.
    static let shared = BlockingExecutor(maximumThreads: 64)

    private let condition = NSCondition()
    private var queue: [() -> Void] = []
    private var head = 0
    private var threads = 0
    private var idle = 0
    private let maximumThreads: Int

    init(maximumThreads: Int) {
        self.maximumThreads = maximumThreads
    }

    /// Runs `work` on one of the executor's threads.
    func submit(_ work: @escaping @Sendable () -> Void) {
        condition.lock()
        queue.append(work)
        if idle == 0 && threads < maximumThreads {
            threads += 1
            let thread = Thread { [unowned self] in self.loop() }
            thread.name = "certbus-blocking-\(threads)"
            thread.stackSize = 512 * 1024
            thread.start()
        } else {
            condition.signal()
        }
        condition.unlock()
    }

    /// Runs `body` on an executor thread and returns its value to the suspended caller.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
        }
    }

    private func loop() {
        while true {
            condition.lock()
            while head == queue.count {
                idle += 1
                condition.wait()
                idle -= 1
            }
            let work = queue[head]
            head += 1
            if head > 1024 && head * 2 > queue.count {
                queue.removeFirst(head)
                head = 0
            }
            condition.unlock()
            work()
        }
    }
}
