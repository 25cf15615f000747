import CertbusDatabase
import Foundation
import Postgres

/// `certbus bench report`: how long the weekly and daily reports take over a large history,
/// measured in a scratch database created next to the configured one (needs CREATEDB) and
/// dropped after. The history is `ReportSampleData` of the given size; after VACUUM ANALYZE
/// each report is loaded once cold and then three times (best kept), each weekly section is
/// timed on its own, and the HTML, CSV and JSON renderings are timed.
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
        /// Each weekly section's query, best of three, by section id (in the report's snapshot, JIT off).
        public var weeklySectionSeconds: [String: Double]
        /// The weekly report over 52 weeks, best of three.
        public var weeklyYearBestSeconds: Double
        /// The daily report, best of three.
        public var dailyBestSeconds: Double
        /// Rendering the weekly report, best of three, by format.
        public var renderSeconds: [String: Double]
        /// Size of the weekly HTML page in bytes.
        public var htmlBytes: Int
        /// EXPLAIN (ANALYZE, BUFFERS) of the certificate trends section (JIT off, as in the report), to show the index ranges.
        public var certificateTrendsPlan: String
        /// The 1-minute load average at the end.
        public var loadAverage: Double?
    }

    /// Runs it; `progress` receives one line per phase.
    public func run(connectionString: String, progress: (String) -> Void = { _ in }) throws -> Result {
        guard certificates > 0, jobs >= 0 else { throw ReportError("certificates must be positive and jobs not negative") }
        let admin = try Connection.connect(connectionString, applicationName: "certbus-bench")
        defer { admin.close() }
        let name = "certbus_bench_report_\(getpid())_\(UInt32.random(in: 0...UInt32.max))"
        let quoted = try admin.quoteIdentifier(name)
        try admin.execute("CREATE DATABASE \(quoted)")
        defer { _ = try? admin.execute("DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)") }
        let c = try Connection.connect(
            AuditBenchmark.connectionString(connectionString, database: name), applicationName: "certbus-bench")
        defer { c.close() }
        progress("migrating scratch database \(name)")
        _ = try Migrator.located().migrate(c)
        var sample: ReportSampleData.Summary!
        let insertSeconds = try AuditBenchmark.time {
            sample = try ReportSampleData(certificates: certificates, jobs: jobs).insert(on: c, progress: progress)
        }
        progress("VACUUM ANALYZE")
        try c.execute("VACUUM ANALYZE")

        func best(_ runs: Int = 3, _ body: () throws -> Void) throws -> Double {
            var times: [Double] = []
            for _ in 0..<runs { times.append(try AuditBenchmark.time(body)) }
            return times.min() ?? 0
        }
        progress("weekly report")
        var weekly: OperationsReport!
        let first = try AuditBenchmark.time { weekly = try WeeklyReport.load(on: c) }
        let weeklyBest = try best { weekly = try WeeklyReport.load(on: c) }
        let year = try best { _ = try WeeklyReport.load(on: c, weeks: 52, weeksAhead: 52) }
        progress("weekly report, each section")
        let period = try c.query(
            "SELECT date_trunc('week', now()) - interval '7 weeks' AS since, now() AS until, date_trunc('week', now()) + interval '8 weeks' AS horizon")[0]
        let since: Date = try period.decode("since"), until: Date = try period.decode("until")
        let horizon: Date = try period.decode("horizon")
        var sections: [String: Double] = [:]
        try ReportQuery.snapshot(on: c) { c in
            for load in WeeklyReport.sectionLoaders {
                var id = ""
                let seconds = try best { id = try load(c, since, until, horizon).id }
                sections[id] = seconds
            }
        }
        progress("daily report")
        let daily = try best { _ = try DailyReport.load(on: c) }
        progress("rendering")
        var html = ""
        let render: [String: Double] = [
            "html": try best { html = HTMLReport(weekly).render() },
            "csv": try best { _ = CSVReport(weekly).render() },
            "json": try best { _ = try ReportJSON.render(weekly) },
        ]
        let plan = try ReportQuery.snapshot(on: c) { c in
            try c.query(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT * FROM certbus.report_certificate_weeks($1, $2)", [since, until]
            ).map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
        }
        return Result(
            sample: sample, insertSeconds: insertSeconds, weeklyFirstSeconds: first, weeklyBestSeconds: weeklyBest,
            weeklySectionSeconds: sections, weeklyYearBestSeconds: year, dailyBestSeconds: daily, renderSeconds: render,
            htmlBytes: html.utf8.count, certificateTrendsPlan: plan, loadAverage: AuditBenchmark.loadAverage())
    }
}
