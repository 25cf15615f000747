@testable import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The report pages in a real browser: `certbus report ... --format html --out` against a fresh
/// test database (`TestDatabase`, dropped at the end) holding `ReportSampleData` plus rows with
/// hostile text, rendered by headless Chromium (Debian's `chromium`) to a PNG and a DOM. The
/// same `PageCheck` that passes the real pages must catch broken ones (a script that throws, a
/// page missing its data). Without Chromium these tests fail with the install command: they
/// never pass without a browser.
@Suite struct ReportBrowserTests {
    /// Text that would run or load something if the page did not escape it.
    static let hostile = "<script>document.title='pwned'</script><img src=x onerror=alert(1)>"

    /// What a rendered report page must show; `problems` lists every way it falls short.
    struct PageCheck {
        /// The page's main heading.
        var title: String
        /// Section headings that must be there.
        var headings: [String]
        /// How many charts the page draws.
        var charts: Int
        /// Text that must be in the DOM (as serialized, so escaped where it is text).
        var texts: [String] = []

        func problems(_ page: HeadlessChromium.Rendering, width: Int, height: Int) -> [String] {
            var problems = page.consoleMessages.map { "console: \($0)" }
            let dom = page.dom
            if !dom.contains("<h1>\(title)</h1>") { problems.append("no heading \(title)") }
            for heading in headings where !dom.contains(">\(heading)</h2>") { problems.append("no section heading \(heading)") }
            let drawn = dom.components(separatedBy: "<svg class=\"chart\"").count - 1
            if drawn != charts { problems.append("\(drawn) charts instead of \(charts)") }
            for text in texts where !dom.contains(text) { problems.append("missing \(text)") }
            for element in ["<script", "<img", "<iframe", "<link"] where dom.lowercased().contains(element) {
                problems.append("the DOM holds a \(element)> element")
            }
            if dom.contains("<title>pwned") { problems.append("a script changed the title") }
            if let size = page.screenshotSize {
                if size.width != width || size.height != height { problems.append("screenshot is \(size.width)x\(size.height)") }
            } else {
                problems.append("the screenshot is not a PNG")
            }
            return problems
        }
    }

    static let weeklyCheck = PageCheck(
        title: "certbus weekly report",
        headings: ["Key figures", "Certificates issued, renewed, revoked and expired per week", "Upcoming expiries by week",
                   "Job attempts and failures per week by kind", "Job failure patterns by kind and error",
                   "Alert volume by severity per week", "Alert patterns", "Mean time to renew"],
        charts: 5,
        texts: ["&lt;script&gt;document.title=", "Hours to renew per week", "<title id=\"chart-1-title\">Certificates per week</title>"])

    /// A test database with the sample history, a failing job whose error is hostile and an
    /// unread ERROR alert whose title is hostile; the caller drops it.
    static func database() throws -> TestDatabase {
        let db = try TestDatabase.create()
        let c = try db.connect()
        defer { c.close() }
        _ = try ReportSampleData(certificates: 400, jobs: 1500).insert(on: c)
        try c.execute(
            """
            INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
            SELECT 999999, a, 'ISSUE_CERT', 'w', now() - interval '1 minute', now() - interval '1 minute', 'RETRY', $1
              FROM generate_series(1, 500) a
            """, [hostile])
        try c.execute("SELECT certbus.raise_alert('ERROR', 'ERROR', $1, $1, 'JOB', '999999', 'job:999999')", [hostile])
        return db
    }

    /// Writes the `report` page of `db` into `folder` with certbus and returns its file.
    static func writePage(_ report: String, _ db: TestDatabase, in folder: URL, extra: [String] = []) throws -> URL {
        let page = folder.appendingPathComponent("\(report).html")
        let result = try CertbusCommand.run(["report", report, "--format", "html", "--out", page.path] + extra, database: db, timeout: 120)
        guard result.status == 0 else { throw ReportError("certbus report \(report) failed: \(result.combined)") }
        return page
    }

    @Test func weeklyAndDailyPagesRenderCleanlyWithTheirData() throws {
        try #require(HeadlessChromium.isInstalled, "\(HeadlessChromium.installHint)")
        let db = try Self.database()
        defer { db.drop() }
        let dir = try ReportCommandTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }

        let weekly = try HeadlessChromium.render(try Self.writePage("weekly", db, in: dir), width: 1100, height: 1600)
        let weeklyProblems = Self.weeklyCheck.problems(weekly, width: 1100, height: 1600)
        #expect(weeklyProblems.isEmpty, "\(weeklyProblems)\n\(weekly.log.suffix(3000))")
        // The data: the hostile pattern's 500 attempts, and weeks on the axis.
        #expect(weekly.dom.contains("<td class=\"num\">500</td>"))
        #expect(weekly.dom.contains("<text class=\"category\""))
        #expect(weekly.screenshot.count > 30_000, "a page of charts and tables is not a blank PNG")

        let daily = try HeadlessChromium.render(try Self.writePage("daily", db, in: dir), width: 1000, height: 1200)
        let dailyCheck = PageCheck(
            title: "certbus daily report",
            headings: ["Key figures", "Unread ERROR alerts", "Jobs failed in the last day", "Running jobs, longest first",
                       "Queue depth by kind"],
            charts: 1, texts: ["&lt;script&gt;document.title='pwned'&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"])
        let dailyProblems = dailyCheck.problems(daily, width: 1000, height: 1200)
        #expect(dailyProblems.isEmpty, "\(dailyProblems)\n\(daily.log.suffix(3000))")
    }

    @Test func theSameCheckCatchesBrokenPages() throws {
        try #require(HeadlessChromium.isInstalled, "\(HeadlessChromium.installHint)")
        let db = try Self.database()
        defer { db.drop() }
        let dir = try ReportCommandTests.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = try String(contentsOf: try Self.writePage("weekly", db, in: dir), encoding: .utf8)

        // A script slipped into the page: blocked by the page's policy, and the block is reported.
        let injected = dir.appendingPathComponent("injected.html")
        try good.replacingOccurrences(of: "</body>", with: "<script>throw new Error('report broke')</script></body>")
            .write(to: injected, atomically: true, encoding: .utf8)
        let blocked = Self.weeklyCheck.problems(try HeadlessChromium.render(injected), width: 1100, height: 1600)
        #expect(blocked.contains { $0.hasPrefix("console:") && $0.contains("Content Security Policy") }, "\(blocked)")
        #expect(blocked.contains("the DOM holds a <script> element"), "\(blocked)")

        // Without the policy the script runs and throws: the uncaught error is reported.
        let unguarded = dir.appendingPathComponent("unguarded.html")
        try good.replacingOccurrences(of: "<meta http-equiv=\"Content-Security-Policy\"", with: "<meta name=\"x-removed\"")
            .replacingOccurrences(of: "</body>", with: "<script>throw new Error('report broke')</script></body>")
            .write(to: unguarded, atomically: true, encoding: .utf8)
        let thrown = Self.weeklyCheck.problems(try HeadlessChromium.render(unguarded), width: 1100, height: 1600)
        #expect(thrown.contains { $0.contains("Uncaught Error: report broke") }, "\(thrown)")

        // A page without most of its data: the missing headings and charts are reported.
        let partial = try HeadlessChromium.render(try Self.writePage("weekly", db, in: dir, extra: ["--section", "alert_volume"]))
        let missing = Self.weeklyCheck.problems(partial, width: 1100, height: 1600)
        #expect(missing.contains("no section heading Mean time to renew"), "\(missing)")
        #expect(missing.contains("1 charts instead of 5"), "\(missing)")
        #expect(!missing.contains { $0.hasPrefix("console:") }, "\(missing)")
    }
}
