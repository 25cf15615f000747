import CertbusCore
import Foundation
import Postgres

/// The executor side of a `Worker`: executor threads take work items from the ready queue,
/// run single jobs through their handler (recording results in batches, or completing jobs
/// with commit closures in their own transaction) and batches through their batch handler.
extension Worker {
    func release(_ item: WorkItem) {
        condition.lock()
        inFlight -= 1
        for job in item.jobs { executing.removeValue(forKey: job.job.id) }
        // Wake the claim loop when it waits for capacity and enough is free for a worthwhile batch
        // (it also looks every 50 ms), and shutdown when it waits for the last job; not for every job.
        if (waitingForCapacity && options.concurrency - inFlight >= claimThreshold) || (stopping && executing.isEmpty) {
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Free executor threads that wake a claim loop waiting for capacity: an eighth of the
    /// concurrency (at most 32), so a busy worker claims in batches rather than job by job.
    var claimThreshold: Int { max(1, min(32, options.concurrency / 8)) }

    func executorLoop() {
        while let item = ready.take() {
            condition.lock()
            for job in item.jobs { executing[job.job.id] = job }
            condition.unlock()
            switch item {
            case .single(let claimed): execute(claimed)
            case .batch(let handler, let jobs): executeBatch(handler, jobs)
            }
            release(item)
        }
    }

    /// Runs a batch through its handler; jobs it leaves for the one-by-one path go back to the
    /// ready queue as single items (counted in flight before the batch's own item is released).
    func executeBatch(_ handler: any BatchJobHandler, _ jobs: [ClaimedJob]) {
        let outcome: JobBatchOutcome
        let started = DispatchTime.now().uptimeNanoseconds
        func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9 }
        do {
            outcome = try handler.runBatch(jobs, context: JobBatchContext(database: pool, workerId: id, backoff: options.backoff))
        } catch {
            log(.warning, name, "a batch of \(jobs.count) \(handler.kind) jobs failed (\(error)); recording a retryable failure for each")
            let failureClass = WorkerMetrics.failureClass(of: error, cancelled: false)
            let elapsed = seconds()
            for job in jobs {
                recorder.add(.failure(job, .retryable("its batch failed: \(error)"), retryDelay: options.backoff.delay(afterAttempt: job.job.attempt)))
                metrics.record(kind: handler.kind.rawValue, seconds: elapsed, failureClass: failureClass)
            }
            return
        }
        // Each attempt the batch finished took the batch's time.
        let elapsed = seconds()
        for _ in outcome.succeeded { metrics.record(kind: handler.kind.rawValue, seconds: elapsed, failureClass: nil) }
        for id in outcome.failed {
            metrics.record(kind: handler.kind.rawValue, seconds: elapsed, failureClass: outcome.permanent.contains(id) ? "permanent" : "retryable")
        }
        running.remove(outcome.settled)
        condition.lock()
        claimStatistics.succeeded += outcome.succeeded.count
        claimStatistics.failed += outcome.failed.count
        claimStatistics.discarded += outcome.discarded.count
        inFlight += outcome.deferred.count
        condition.unlock()
        if !outcome.discarded.isEmpty {
            log(.warning, name, "\(outcome.discarded.count) \(handler.kind) results refused: their jobs were rescued or handed back meanwhile")
        }
        if !outcome.deferred.isEmpty { ready.put(outcome.deferred.map { .single($0) }) }
    }

    func execute(_ claimed: ClaimedJob) {
        let started = DispatchTime.now().uptimeNanoseconds
        let failureClass = runAttempt(claimed)
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        metrics.record(kind: claimed.job.kind.rawValue, seconds: seconds, failureClass: failureClass)
    }

    /// Runs one attempt and hands its result on; returns the failure class, nil on success.
    func runAttempt(_ claimed: ClaimedJob) -> String? {
        guard let handler = registry.handler(for: claimed.job.kind) else {
            // Cannot happen (only kinds with a handler are claimed), but never leave a job leased forever.
            recorder.add(.failure(claimed, .permanent("this worker has no handler for \(claimed.job.kind)"), retryDelay: 0))
            return "permanent"
        }
        let cancel = running.cancelFlag(claimed.job.id) ?? Flag()
        let context = JobContext(
            database: pool, workerId: id,
            heartbeat: { [pool, id, options] in
                let result = try pool.withConnection {
                    try JobQueue.heartbeat(
                        on: $0, workerId: id,
                        jobs: [HeldJob(jobId: claimed.job.id, attempt: claimed.job.attempt, maximumRunTime: handler.maximumRunTime)],
                        leaseSeconds: options.leaseSeconds)
                }
                if result.cancelRequested.contains(claimed.job.id) { cancel.set() }
                if !result.held.contains(claimed.job.id) {
                    cancel.set()
                    throw JobFailure.retryable("job \(claimed.job.id) is no longer held by this worker (lease lost)")
                }
            },
            isCancelled: { cancel.isSet })
        do {
            let completion = try handler.run(claimed.job, context: context)
            guard completion.commit != nil else {
                recorder.add(.success(claimed, completion))
                return nil
            }
            do {
                let applied = try withRetries { try pool.withConnection { try JobQueue.complete(on: $0, claimed, completion) } }
                finishedInTransaction(claimed, applied: applied, success: true)
                return nil
            } catch {
                fail(claimed, error)
                return WorkerMetrics.failureClass(of: error, cancelled: cancel.isSet)
            }
        } catch {
            fail(claimed, error)
            return WorkerMetrics.failureClass(of: error, cancelled: cancel.isSet)
        }
    }

    func fail(_ claimed: ClaimedJob, _ error: Error) {
        let failure = (error as? JobFailure) ?? JobFailure.retryable(String(describing: error))
        let delay = options.backoff.delay(afterAttempt: claimed.job.attempt)
        guard failure.commit != nil else {
            recorder.add(.failure(claimed, failure, retryDelay: delay))
            return
        }
        do {
            let applied = try withRetries {
                try pool.withConnection { try JobQueue.fail(on: $0, claimed, failure, retryDelay: delay) }
            }
            finishedInTransaction(claimed, applied: applied, success: false)
        } catch {
            // The failure's own effects could not be recorded: record the failure alone.
            log(.error, name, "job \(claimed.job.id): recording the failure with its effects failed: \(error)")
            recorder.add(
                .failure(claimed, JobFailure(message: failure.message, isPermanent: failure.isPermanent), retryDelay: delay))
        }
    }

    func finishedInTransaction(_ claimed: ClaimedJob, applied: Bool, success: Bool) {
        running.remove([claimed.job.id])
        condition.lock()
        if !applied {
            claimStatistics.discarded += 1
        } else if success {
            claimStatistics.succeeded += 1
        } else {
            claimStatistics.failed += 1
        }
        condition.unlock()
        if !applied {
            log(.warning, name, "job \(claimed.job.id) attempt \(claimed.job.attempt): result refused, the job was rescued or handed back meanwhile")
        }
    }

    /// Retries `body` while the database connection is lost, for up to about the lease.
    func withRetries<T>(_ body: () throws -> T) throws -> T {
        let deadline = Date().addingTimeInterval(options.leaseSeconds)
        var delay = 0.05
        while true {
            do {
                return try body()
            } catch let error as PostgresError where error.isConnectionLost && Date() < deadline {
                Thread.sleep(forTimeInterval: delay)
                delay = min(delay * 2, 1)
            }
        }
    }
}
