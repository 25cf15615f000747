import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// A worker dedicated to ISSUE_CERT that claims jobs in batches and runs them through
/// ``IssueBatch`` — for bulk issuance (thousands of certificates at once), where the per-job
/// commit of the general `Worker` is the bottleneck. Same queue, same fencing: it claims with
/// `JobQueue.claim`, finishes with `JobQueue.finish`, and a job it loses (lease expired) is
/// not recorded. Idle, it looks for work every `pollInterval` seconds.
public final class IssueBatchWorker: CertbusService, @unchecked Sendable {
    public let name = "issue-batch-worker"
    /// This worker's id in `jobs.locked_by`.
    public let id: String
    let batch: IssueBatch
    let pool: ConnectionPool
    let threads: Int
    let batchSize: Int
    let leaseSeconds: Double
    let pollInterval: Double
    let queues: [String]
    let log: ServiceLog
    private let condition = NSCondition()
    private var stopping = false
    private var running = 0

    /// A batch worker with `threads` claim loops of up to `batchSize` jobs each.
    public init(configuration: ConnectionConfiguration, registry: CertificateAuthorityRegistry, threads: Int = 2,
                batchSize: Int = 200, leaseSeconds: Double = 60, pollInterval: Double = 0.2, queues: [String] = ["default"],
                log: ServiceLog = .standardError()) {
        id = "\(ProcessInfo.processInfo.hostName):\(getpid()):issue-batch-\(UInt16.random(in: 0...UInt16.max))"
        batch = IssueBatch(registry: registry)
        pool = ConnectionPool(configuration: configuration.with(applicationName: "certbus-issue-batch"), maximumConnections: threads * 2 + 1)
        self.threads = max(1, threads)
        self.batchSize = max(1, batchSize)
        self.leaseSeconds = leaseSeconds
        self.pollInterval = pollInterval
        self.queues = queues
        self.log = log
    }

    public func start() throws {
        for n in 0..<threads {
            condition.lock()
            running += 1
            condition.unlock()
            let thread = Thread { [self] in loop(n) }
            thread.name = "issue-batch-\(n)"
            thread.start()
        }
    }

    private func loop(_ n: Int) {
        defer {
            condition.lock()
            running -= 1
            condition.broadcast()
            condition.unlock()
        }
        while true {
            condition.lock()
            let stop = stopping
            condition.unlock()
            if stop { return }
            do {
                let claimed = try pool.withConnection { c in
                    try JobQueue.claim(on: c, workerId: id, limit: batchSize, queues: queues, kinds: [.issueCertificate],
                                       leaseSeconds: leaseSeconds)
                }
                if claimed.isEmpty {
                    condition.lock()
                    if !stopping { _ = condition.wait(until: Date().addingTimeInterval(pollInterval)) }
                    condition.unlock()
                    continue
                }
                let outcome = try batch.process(claimed, workerId: id, pool: pool)
                log(.debug, name, "batch of \(claimed.count): \(outcome.succeeded) issued, \(outcome.failed) failed")
            } catch {
                // Claimed jobs whose batch failed stay RUNNING until their lease expires; the rescuer requeues them.
                log(.warning, name, "batch failed, retrying later: \(error)")
                Thread.sleep(forTimeInterval: min(1, pollInterval * 5))
            }
        }
    }

    public func stop(grace: Double) {
        condition.lock()
        stopping = true
        condition.broadcast()
        let deadline = Date().addingTimeInterval(max(grace, 0.1))
        while running > 0, condition.wait(until: deadline) {}
        condition.unlock()
        pool.close()
    }
}
