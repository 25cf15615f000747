import Foundation

/// The threads ACME client work runs on: a task executor of its own, so that issuing
/// through an ACME CA never waits for a thread of Swift's cooperative pool.
///
/// That pool has one thread per core (two on a small machine). Anything else in the
/// process that blocks those threads (a library call, a synchronous wait) would otherwise
/// stall every ACME order in flight until it let go; `ACMEBlocking` runs its work with this
/// executor as the task's preference, so the client's async code, and every nonisolated
/// async call it makes, runs here instead. The threads only run the client's own steps
/// (JSON, JWS signing); network I/O happens on the HTTP client's threads.
final class ACMETaskExecutor: TaskExecutor, @unchecked Sendable {
    /// The executor every ACME task uses.
    static let shared = ACMETaskExecutor(threads: 2)

    /// The prefix of its threads' names (`certbus-acme-0`, ...).
    static let threadNamePrefix = "certbus-acme-"

    /// True on the executor's own threads (and nowhere else).
    static var isCurrentThreadOwn: Bool { ownThread.value }
    private static let ownThread = ThreadFlag()

    private let condition = NSCondition()
    private var queue: [UnownedJob] = []
    private var head = 0

    private init(threads: Int) {
        for index in 0..<threads {
            // Named from inside: on Linux a name set before start() is not applied, and the
            // thread would keep the name of whichever thread created it.
            let name = Self.threadNamePrefix + String(index)
            Thread { [unowned self] in
                Thread.current.name = name
                Self.ownThread.value = true
                self.runJobs()
            }.start()
        }
    }

    /// Queues a job; one of the executor's threads runs it.
    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    private func runJobs() {
        while true {
            condition.lock()
            while head == queue.count { condition.wait() }
            let job = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}

/// A per-thread boolean (a pthread key), false until a thread sets it.
private final class ThreadFlag: @unchecked Sendable {
    private var key = pthread_key_t()

    init() { pthread_key_create(&key, nil) }

    var value: Bool {
        get { pthread_getspecific(key) != nil }
        set { pthread_setspecific(key, newValue ? UnsafeRawPointer(bitPattern: 1) : nil) }
    }
}
