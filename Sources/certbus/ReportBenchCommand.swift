import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench report`: the weekly and daily reports over a large synthetic history, in a scratch database.
enum ReportBenchCommand {
    static let certificates = Option<Int>("certificates", valueName: "n", default: 100_000, help: "About how many certificates.")
    static let jobs = Option<Int>("jobs", valueName: "n", default: 1_000_000, help: "Finished jobs (with their attempts).")

    static let command = Command(
        "report", abstract: "Measure the weekly and daily reports over a large history (use a release build).",
        discussion: """
            Creates a scratch database on the same server (needs CREATEDB), migrates it, fills it with certbus report \
            sample data of the given size, runs VACUUM ANALYZE, then times the weekly report (first and best of \
            three, 8 and 52 weeks), each weekly section, the daily report and the HTML/CSV/JSON renderings; prints \
            the plan of the certificate trends query; then drops the database.
            """,
        options: CommandContext.options + [certificates, jobs]
    ) { invocation in
        let benchmark = ReportBenchmark(certificates: try invocation.value(certificates), jobs: try invocation.value(jobs))
        guard benchmark.certificates > 0, benchmark.jobs >= 0 else {
            throw UsageError("--certificates must be positive and --jobs not negative")
        }
        let bench = try BenchInvocation(invocation)
        let context = bench.context
        let result = try benchmark.run(connectionString: bench.url, progress: bench.progress)
        if context.json {
            invocation.output.write(try JSONOutput.string(result))
            return
        }
        func ms(_ seconds: Double) -> String { String(format: "%.0f ms", seconds * 1000) }
        let s = result.sample
        var text = """
            history: \(s.certificates) certificates (\(s.renewals) renewals, \(s.requests) requests), \(s.jobs) jobs \
            (\(s.attempts) attempts), \(s.alerts) alerts; inserted in \(String(format: "%.1f", result.insertSeconds)) s
            weekly report, 8 weeks:  first \(ms(result.weeklyFirstSeconds)), best of 3 \(ms(result.weeklyBestSeconds))
            weekly report, 52 weeks: best of 3 \(ms(result.weeklyYearBestSeconds))
            daily report:            best of 3 \(ms(result.dailyBestSeconds))
            weekly sections (best of 3):

            """
        for (id, seconds) in result.weeklySectionSeconds.sorted(by: { $0.value > $1.value }) {
            text += "  \(id.padding(toLength: 24, withPad: " ", startingAt: 0)) \(ms(seconds))\n"
        }
        text += "rendering the weekly report: " + ["html", "csv", "json"].map { "\($0) \(ms(result.renderSeconds[$0] ?? 0))" }.joined(separator: ", ")
            + " (HTML page \(result.htmlBytes / 1024) KiB)\n"
        text += "certificate trends plan:\n" + result.certificateTrendsPlan.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        if let load = result.loadAverage {
            text += "load average at the end: \(String(format: "%.2f", load)) (\(ProcessInfo.processInfo.activeProcessorCount) CPUs)\n"
        }
        invocation.output.write(text)
    }
}
