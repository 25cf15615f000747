import Foundation

extension GrowthBenchmark.Results {
    /// The text `certbus bench growth` prints: every figure, and the plans behind them.
    public func report(for b: GrowthBenchmark) -> String {
        func f(_ v: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", v) }
        func s(_ seconds: Double) -> String { seconds < 1 ? f(seconds * 1000) + " ms" : f(seconds, 2) + " s" }
        func rate(_ n: Int, _ seconds: Double) -> String { f(Double(n) / max(seconds, 1e-9)) }
        func indented(_ plan: String) -> [String] { plan.split(separator: "\n").map { "    " + $0 } }
        var lines = ["certbus bench growth — \(server)",
                     "load average before: \(loadBefore.map { f($0, 2) } ?? "?"), after: \(loadAfter.map { f($0, 2) } ?? "?") (\(ProcessInfo.processInfo.activeProcessorCount) CPUs)"]
        if let churn {
            lines.append("")
            lines.append("1. Drain after churn (\(b.workers) worker processes, --concurrency \(b.concurrency), \(b.drainJobs) NOOP jobs per drain):")
            lines += churn.report(for: QueueBenchmark(executable: b.executable, log: { _ in })).split(separator: "\n", omittingEmptySubsequences: false)
                .drop { !$0.hasPrefix("Churn:") }.map(String.init)
        }
        if let a = audit {
            lines.append("")
            lines.append("2. Audit log, \(a.rows) rows (partitions \(f(Double(a.tableBytes) / 1_048_576)) MB with indexes):")
            lines.append("  bulk insert (context): \(rate(a.rows, a.insertSeconds)) rows/s")
            lines.append("  sealing: \(a.sealedRows) rows in \(s(a.sealSeconds)) = \(rate(a.sealedRows, a.sealSeconds)) rows/s"
                         + (a.sealCPUSeconds.map { ", \(rate(a.sealedRows, $0)) rows per CPU second (certbus + PostgreSQL)" } ?? ""))
            lines.append("  verification: \(a.verifiedRows) rows in \(s(a.verifySeconds)) = \(rate(a.verifiedRows, a.verifySeconds)) rows/s"
                         + (a.verifyCPUSeconds.map { ", \(rate(a.verifiedRows, $0)) rows per CPU second" } ?? ""))
            lines.append("  plan of the sealer's work list (one batch):")
            lines += indented(a.workListPlan)
            lines.append("  plan of one verifier step:")
            lines += indented(a.walkPlan)
        }
        if let r = report {
            lines.append("")
            let sample = r.sample.map { "\($0.jobs) jobs (\($0.attempts) attempts), \($0.certificates) certificates, \($0.alerts) alerts" } ?? "?"
            lines.append("3. Weekly report over \(sample)" + (audit.map { " and \($0.rows) audit rows" } ?? "") + ":")
            lines.append("  weekly: first \(s(r.weeklyFirstSeconds)), best of 3 \(s(r.weeklyBestSeconds)); daily: best of 3 \(s(r.dailyBestSeconds))")
            for (title, seconds) in r.weeklySectionSeconds.sorted(by: { $0.value > $1.value }) {
                lines.append("    \(title.padding(toLength: 24, withPad: " ", startingAt: 0)) \(s(seconds))")
            }
            lines.append("  plans of the weekly report's statements (auto_explain, ANALYZE):")
            for plan in r.plans { lines += indented(plan) + [""] }
        }
        if let e = expiry {
            lines.append("")
            lines.append("4. Expiry scan over \(e.certificates) certificates (\(e.candidates) inside their threshold without replacement):")
            lines.append("  steady state (the hourly run; best of 3): \(s(e.steadyScanSeconds)); expiry alerts, steady state: \(s(e.steadyAlertSeconds))")
            lines.append("  first run (\(e.firstScan)): \(s(e.firstScanSeconds))")
            lines.append("  plan of the candidate query:")
            lines += indented(e.plan)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
