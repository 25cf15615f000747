import CertbusServices
import Foundation
import Postgres

/// The weekly and daily reports over a large history (beside the audit rows, when there are some).
extension GrowthBenchmark {
    func measureReport(_ c: Connection) throws -> ReportFigures {
        var figures = ReportFigures()
        log("report: inserting the report sample with \(jobs) finished jobs")
        figures.insertSeconds = try BenchClock.time {
            figures.sample = try ReportSampleData(certificates: max(1000, jobs / 10), jobs: jobs).insert(on: c, progress: log)
        }
        log("report: VACUUM ANALYZE")
        try c.execute("VACUUM ANALYZE")
        log("report: weekly report, first and best of 3")
        figures.weeklyFirstSeconds = try BenchClock.time { _ = try WeeklyReport.load(on: c) }
        var best = Double.infinity
        for _ in 0..<3 {
            var marks: [(String, DispatchTime)] = []
            let seconds = try BenchClock.time { _ = try WeeklyReport.load(on: c) { marks.append(($0, DispatchTime.now())) } }
            best = min(best, seconds)
            let end = DispatchTime.now()
            for (index, (title, start)) in marks.enumerated() {
                let stop = index + 1 < marks.count ? marks[index + 1].1 : end
                let section = Double(stop.uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
                figures.weeklySectionSeconds[title] = min(figures.weeklySectionSeconds[title] ?? .infinity, section)
            }
        }
        figures.weeklyBestSeconds = best
        log("report: daily report, best of 3")
        figures.dailyBestSeconds = try (0..<3).map { _ in try BenchClock.time { _ = try DailyReport.load(on: c) } }.min() ?? 0
        log("report: plans of the weekly report's statements")
        try c.execute("SET jit = off")
        figures.plans = try PlanCapture.plans(on: c) { _ = try WeeklyReport.load(on: c) }
        return figures
    }
}
