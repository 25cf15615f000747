import Foundation
import Postgres

/// The worker's bookkeeping thread: records finished attempts in batches (one
/// `JobQueue.finish` per flush, however many jobs finished since the last one) and extends
/// the leases of running jobs on a timer (one `JobQueue.heartbeat` for all of them).
///
/// A flush starts as soon as a result arrives and nothing else is being flushed, so results
/// are recorded at once under light load and in large batches under heavy load.
final class AttemptRecorder: @unchecked Sendable {
    private let connection: ResilientConnection
    private let workerId: String
    private let running: RunningJobs
    private let leaseSeconds: Double
    private let heartbeatInterval: Double
    private let log: ServiceLog
    private let logName: String
    private let condition = NSCondition()
    private var pending: [AttemptResult] = []
    private var stopping = false
    private var nextHeartbeat: Date
    private let finished = DispatchSemaphore(value: 0)
    private var statistics = WorkerStatistics()

    init(
        configuration: ConnectionConfiguration, workerId: String, running: RunningJobs, leaseSeconds: Double,
        heartbeatInterval: Double, log: ServiceLog, logName: String
    ) {
        self.connection = ResilientConnection(configuration: configuration)
        self.workerId = workerId
        self.running = running
        self.leaseSeconds = leaseSeconds
        self.heartbeatInterval = heartbeatInterval
        self.log = log
        self.logName = logName
        self.nextHeartbeat = Date().addingTimeInterval(heartbeatInterval)
    }

    func start() {
        let thread = Thread { [self] in self.loop() }
        thread.name = "certbus-recorder"
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Queues a finished attempt for the next flush.
    func add(_ result: AttemptResult) {
        condition.lock()
        pending.append(result)
        if pending.count == 1 { condition.signal() }
        condition.unlock()
    }

    /// Flushes what is pending, then stops the thread (waiting at most `timeout` seconds).
    func stop(timeout: Double) {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
        if finished.wait(timeout: .now() + timeout) == .timedOut {
            log(.warning, logName, "could not record \(pendingCount) finished attempts before shutting down (database unreachable?); their leases will expire and the rescuer will run them again")
        }
    }

    private var pendingCount: Int {
        condition.lock()
        defer { condition.unlock() }
        return pending.count
    }

    /// Counters kept by the recorder (succeeded, failed, discarded, flushes).
    var counters: WorkerStatistics {
        condition.lock()
        defer { condition.unlock() }
        return statistics
    }

    private func loop() {
        defer {
            connection.close()
            finished.signal()
        }
        while true {
            condition.lock()
            while pending.isEmpty && !stopping && Date() < nextHeartbeat {
                _ = condition.wait(until: nextHeartbeat)
            }
            let batch = pending
            pending.removeAll(keepingCapacity: true)
            let done = stopping && batch.isEmpty
            condition.unlock()
            if done { return }
            if !batch.isEmpty { flush(batch) }
            if Date() >= nextHeartbeat {
                heartbeat()
                nextHeartbeat = Date().addingTimeInterval(heartbeatInterval)
            }
        }
    }

    private func flush(_ batch: [AttemptResult]) {
        while true {
            do {
                let changed = try connection.use { try JobQueue.finish(on: $0, workerId: workerId, batch) }
                running.remove(batch.map(\.jobId))
                var succeeded = 0
                var failed = 0
                var discarded = 0
                for result in batch {
                    guard changed.contains(result.jobId) else {
                        discarded += 1
                        continue
                    }
                    if case .success = result.outcome { succeeded += 1 } else { failed += 1 }
                }
                if discarded > 0 {
                    log(.warning, logName, "\(discarded) results were refused: their jobs were rescued or handed back meanwhile")
                }
                condition.lock()
                statistics.succeeded += succeeded
                statistics.failed += failed
                statistics.discarded += discarded
                statistics.flushes += 1
                condition.unlock()
                return
            } catch let error as PostgresError where error.isConnectionLost {
                log(.warning, logName, "recording \(batch.count) results failed, retrying: \(error.message)")
                Thread.sleep(forTimeInterval: connection.nextRetryDelay())
                // Keep the leases alive while the database is away and back.
                if Date() >= nextHeartbeat {
                    heartbeat()
                    nextHeartbeat = Date().addingTimeInterval(heartbeatInterval)
                }
            } catch {
                // A bug or a refused statement: never loop on it. The leases expire and the rescuer takes over.
                log(.error, logName, "could not record \(batch.count) results: \(error)")
                running.remove(batch.map(\.jobId))
                return
            }
        }
    }

    private func heartbeat() {
        let held = running.heldJobs()
        guard !held.isEmpty else { return }
        do {
            let result = try connection.use {
                try JobQueue.heartbeat(on: $0, workerId: workerId, jobs: held, leaseSeconds: leaseSeconds)
            }
            running.cancel(result.cancelRequested)
            // Jobs finished by their executor meanwhile are not lost, just gone.
            let lost = running.stillHeld(result.lost)
            running.cancel(lost)
            if !lost.isEmpty {
                log(.warning, logName, "lost the lease of jobs \(lost.sorted()) (rescued, or past their maximum run time)")
            }
        } catch {
            log(.warning, logName, "heartbeat failed: \(error)")
        }
    }
}
