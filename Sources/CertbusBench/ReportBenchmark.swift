import CertbusServices
import Foundation
import Postgres

/// `certbus bench report`: how long the weekly and daily reports take over a large history,
/// measured in a `ScratchDatabase`. The history is `ReportSampleData` of the given size; after
/// VACUUM ANALYZE each report is loaded once cold and then three times (best kept), the weekly
/// sections are timed one by one (from the report's own progress announcements, which come
/// before each section is read), and the HTML, CSV and JSON renderings are timed.
public struct ReportBenchmark: Sendable {
    /// About how many certificates.
    public var certificates: Int
    /// Finished jobs (with their attempts).
    public var jobs: Int

    /// A benchmark of this size.
    public init(certificates: Int = 100_000, jobs: Int = 1_000_000) {
        self.certificates = certificates
        self.jobs = jobs
    }

    /// What was measured (seconds).
    public struct Result: Sendable, Encodable {
        /// What the scratch database held.
        public var sample: ReportSampleData.Summary
        /// Seconds to insert the sample (not part of the report's cost).
        public var insertSeconds: Double
        /// The weekly report (8 weeks back, 8 ahead): first load after ANALYZE, then the best of three.
        public var weeklyFirstSeconds: Double
        public var weeklyBestSeconds: Double
        /// Each weekly section's read, best of three, by section title.
        public var weeklySectionSeconds: [String: Double]
        /// The weekly report over 52 weeks, best of three.
        public var weeklyYearBestSeconds: Double
        /// The daily report, best of three.
        public var dailyBestSeconds: Double
        /// Rendering the weekly report, best of three, by format.
        public var renderSeconds: [String: Double]
        /// Size of the weekly HTML page in bytes.
        public var htmlBytes: Int
        /// EXPLAIN (ANALYZE, BUFFERS) of the certificate trends function (JIT off, as in the report).
        public var certificateTrendsPlan: String
        /// The 1-minute load average at the end.
        public var loadAverage: Double?
    }

    /// Runs it; `progress` receives one line per phase.
    public func run(connectionString: String, progress: (String) -> Void = { _ in }) throws -> Result {
        guard certificates > 0, jobs >= 0 else { throw BenchmarkError("certificates must be positive and jobs not negative") }
        let scratch = try ScratchDatabase(near: connectionString, purpose: "report")
        defer { scratch.drop() }
        let c = try scratch.migratedConnection(progress: progress)
        defer { c.close() }
        var sample: ReportSampleData.Summary!
        let insertSeconds = try BenchClock.time {
            sample = try ReportSampleData(certificates: certificates, jobs: jobs).insert(on: c, progress: progress)
        }
        progress("VACUUM ANALYZE")
        try c.execute("VACUUM ANALYZE")

        func best(_ body: () throws -> Void) throws -> Double {
            try (0..<3).map { _ in try BenchClock.time(body) }.min() ?? 0
        }
        progress("weekly report")
        var weekly: OperationsReport!
        let first = try BenchClock.time { weekly = try WeeklyReport.load(on: c) }
        var sections: [String: Double] = [:]
        let weeklyBest = try best {
            // Each section's time runs from its announcement to the next one (or the end).
            var marks: [(String, DispatchTime)] = []
            weekly = try WeeklyReport.load(on: c) { marks.append(($0, DispatchTime.now())) }
            let end = DispatchTime.now()
            for (index, (title, start)) in marks.enumerated() {
                let stop = index + 1 < marks.count ? marks[index + 1].1 : end
                let seconds = Double(stop.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                sections[title] = min(sections[title] ?? .infinity, seconds)
            }
        }
        let year = try best { _ = try WeeklyReport.load(on: c, weeks: 52, weeksAhead: 52) }
        progress("daily report")
        let daily = try best { _ = try DailyReport.load(on: c) }
        progress("rendering")
        var html = ""
        let render: [String: Double] = [
            "html": try best { html = HTMLReport(weekly).render() },
            "csv": try best { _ = CSVReport(weekly).render() },
            "json": try best { _ = try ReportJSON.render(weekly) },
        ]
        let plan = try c.withTransaction { c in
            try c.execute("SET LOCAL jit = off")
            return try c.query(
                """
                EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
                SELECT * FROM certbus.report_certificate_weeks(date_trunc('week', now()) - interval '7 weeks', now())
                """
            ).map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
        }
        return Result(
            sample: sample, insertSeconds: insertSeconds, weeklyFirstSeconds: first, weeklyBestSeconds: weeklyBest,
            weeklySectionSeconds: sections, weeklyYearBestSeconds: year, dailyBestSeconds: daily, renderSeconds: render,
            htmlBytes: html.utf8.count, certificateTrendsPlan: plan, loadAverage: BenchClock.loadAverage())
    }
}
