import Foundation

extension QueueBenchmark.Results {
    /// The text `certbus bench queue` prints: every figure, the drains as ratios of the pgbench ceiling.
    public func report(for b: QueueBenchmark) -> String {
        let r = self
        func f(_ v: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", v) }
        func mb(_ bytes: Int) -> String { f(Double(bytes) / 1_048_576, 1) + " MB" }
        func percentile(_ p: Double) -> Double {
            guard !r.latencies.isEmpty else { return .nan }
            return r.latencies[min(r.latencies.count - 1, Int((Double(r.latencies.count) * p).rounded(.up)) - 1)]
        }
        var lines: [String] = []
        lines.append("certbus bench queue — \(r.server)")
        lines.append("settings: " + r.settings.keys.sorted().map { "\($0)=\(r.settings[$0]!)" }.joined(separator: " ")
            + "; machine: \(ProcessInfo.processInfo.activeProcessorCount) cores")
        lines.append("")
        lines.append("Enqueue (jobs/s):")
        for (label, rate) in r.enqueue { lines.append("  \(label): \(f(rate))") }
        lines.append("")
        lines.append("NOTIFY designs (jobs/s; single = \(b.enqueueClients) connections, one job per transaction; batched = \(b.batchSize) per statement):")
        for row in r.notify {
            lines.append("  \(row.design): single \(row.singleClients.map { f($0) } ?? "-"), batched \(row.batched.map { f($0) } ?? "-")")
        }
        lines.append("")
        let ceiling = r.pgbench.map(\.tps).max() ?? .nan
        let batchedCeiling = r.pgbenchBatched.map(\.tps).max() ?? .nan
        lines.append("pgbench ceiling (claim one row with SKIP LOCKED + mark it done, one transaction per job):")
        for run in r.pgbench { lines.append("  \(run.clients) client(s): \(f(run.tps)) jobs/s") }
        if let a = r.pgbenchAsync { lines.append("  (\(a.clients) clients with synchronous_commit=off: \(f(a.tps)) jobs/s — for reference)") }
        lines.append("pgbench batched ceiling (claim \(b.pgbenchBatch) with SKIP LOCKED, then mark the \(b.pgbenchBatch) done: two transactions):")
        for run in r.pgbenchBatched { lines.append("  \(run.clients) client(s): \(f(run.tps)) jobs/s") }
        lines.append("")
        lines.append("Drain of NOOP jobs (--concurrency \(b.concurrency) per process):")
        for run in r.drains {
            var line = "  \(run.workers) worker process(es): \(run.jobs) jobs in \(f(run.seconds, 2)) s = \(f(run.jobsPerSecond)) jobs/s = \(f(run.jobsPerSecond / ceiling, 2))× the one-job ceiling = \(f(run.jobsPerSecond / batchedCeiling * 100, 0))% of the batched ceiling; peak worker RSS \(mb(run.peakRSSBytes))"
            if let cpu = run.cpuMicrosecondsPerJob {
                line += "; CPU \(f(cpu, 1)) µs/job (workers \(f(run.workerCPUMicrosecondsPerJob ?? .nan, 1)) + their server backends)"
            }
            lines.append(line)
        }
        lines.append("")
        lines.append("Enqueue-to-start latency at \(f(b.latencyRate)) jobs/s, idle worker (\(r.latencies.count) of \(r.latencyJobs) jobs measured):")
        lines.append("  p50 \(f(percentile(0.5) * 1000, 2)) ms, p99 \(f(percentile(0.99) * 1000, 2)) ms, max \(f((r.latencies.last ?? .nan) * 1000, 2)) ms; worker peak RSS \(mb(r.latencyWorkerRSS))")
        if !r.churnBefore.isEmpty, !r.churnAfter.isEmpty {
            func median(_ runs: [QueueBenchmark.DrainRun]) -> Double { runs.map(\.jobsPerSecond).sorted()[runs.count / 2] }
            func list(_ runs: [QueueBenchmark.DrainRun]) -> String { runs.map { f($0.jobsPerSecond) }.joined(separator: ", ") }
            let workers = r.churnBefore[0].workers
            let before = median(r.churnBefore), after = median(r.churnAfter)
            lines.append("")
            lines.append("Churn: \(r.churnJobs) jobs enqueued in batches, run by \(workers) workers and deleted by the retention task in \(f(r.churnSeconds, 1)) s (\(f(Double(r.churnJobs) / r.churnSeconds)) jobs/s sustained); jobs table then \(mb(r.tableBytesAfterChurn)):")
            lines.append("  drain with \(workers) workers, fresh table: \(f(before)) jobs/s (median of \(list(r.churnBefore)))")
            lines.append("  the same table after the churn: \(f(after)) jobs/s (median of \(list(r.churnAfter))) = \(f(after / before * 100, 0))% of fresh")
            if let u = r.churnUpdates {
                lines.append("  row updates of certbus.jobs during the churn: \(u.all), heap-only (HOT): \(u.hot) (\(f(Double(u.hot) / Double(max(u.all, 1)) * 100, 1))%)")
            }
            for plan in r.churnPlans {
                lines.append("  plan on the churned table:")
                lines.append(contentsOf: plan.split(separator: "\n").map { "    " + $0 })
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
