@testable import CertbusServices
import CertbusTesting
import Foundation
import Testing

/// The report renderers (HTML, SVG charts, CSV, JSON) and their pure helpers, on hand-made
/// reports: no database.
@Suite struct ReportRenderingTests {
    /// A weekly-like report with two sections, one chart, hostile text and a NULL.
    static func sample(errorText: String = "<script>alert('x')</script> & \"quoted\"") -> OperationsReport {
        var weeks = ReportSection(
            id: "certificate_trends", title: "Certificates per week", summary: "What happened.", source: "certbus.f",
            columns: [.init("week_starting", .day), .init("issued", .integer), .init("mean_hours", .decimal)],
            rows: [[.day("2025-01-06"), .integer(3), .decimal(2.5)], [.day("2025-01-13"), .integer(0), .null]])
        weeks.chart = .columns(
            of: weeks, title: "Issued <per> week", style: .groupedBars, category: "week_starting",
            series: [("issued", "Issued", .neutral)], unit: "certificates")
        let failures = ReportSection(
            id: "job_failure_patterns", title: "Failures", summary: "Errors.", source: "certbus.g",
            columns: [.init("kind", .text), .init("error_pattern", .text), .init("last_seen", .timestamp)],
            rows: [[.text("ISSUE_CERT"), .text(errorText), .timestamp(Date(timeIntervalSince1970: 1_736_000_000))]])
        return OperationsReport(
            kind: .weekly, title: "certbus weekly report", generatedAt: Date(timeIntervalSince1970: 1_736_400_000),
            periodStart: Date(timeIntervalSince1970: 1_736_121_600), periodEnd: Date(timeIntervalSince1970: 1_736_400_000),
            figures: [.init(id: "issued", label: "Certificates issued", value: .integer(3)),
                      .init(id: "expired_without_successor", label: "Expired, no successor", value: .integer(1), needsAttention: true)],
            sections: [weeks, failures])
    }

    @Test func htmlEscapesEveryDatabaseValueAndLoadsNothing() throws {
        let page = HTMLReport(Self.sample()).render()
        #expect(page.hasPrefix("<!DOCTYPE html>"))
        #expect(page.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot;"))
        // The only "<script" text is none at all: no element, escaped or not, is a script.
        #expect(!page.lowercased().contains("<script"))
        #expect(page.contains("Issued &lt;per&gt; week"))
        #expect(page.contains("http-equiv=\"Content-Security-Policy\""))
        #expect(page.contains("default-src 'none'"))
        // Nothing that fetches: no external URL in src/href, no @import, no url(...).
        for forbidden in ["src=", "href=\"http", "@import", "url(", "<link", "<img", "<iframe"] {
            #expect(!page.contains(forbidden), "page contains \(forbidden)")
        }
        #expect(page.contains("<h2 id=\"certificate-trends-heading\">Certificates per week</h2>"))
        #expect(page.contains("class=\"figure attention\""))
        #expect(page.contains("<td class=\"num\">2.5</td>"))
        #expect(page.contains("<td class=\"word\">2025-01-04 14:13:20Z</td>"))
        #expect(page.contains("<td class=\"word\">ISSUE_CERT</td>"))
    }

    @Test func htmlTextEscapesMarkupAndControlCharacters() {
        #expect(HTMLText.escape("a<b>&\"c'") == "a&lt;b&gt;&amp;&quot;c&#39;")
        #expect(HTMLText.escape("bell\u{07}tab\t") == "bell\u{FFFD}tab\t")
        #expect(HTMLText.identifier("job_failure_patterns") == "job-failure-patterns")
        #expect(HTMLText.identifier("<x y>") == "-x-y-")
    }

    @Test func chartScaleUsesRoundSteps() {
        #expect(ChartScale(largest: 0, integral: true).ticks == [0, 1])
        #expect(ChartScale(largest: 7, integral: true).ticks == [0, 2, 4, 6, 8])
        #expect(ChartScale(largest: 1234, integral: true).ticks == [0, 500, 1000, 1500])
        #expect(ChartScale(largest: 3, integral: true).ticks == [0, 1, 2, 3])
        let hours = ChartScale(largest: 0.37, integral: false)
        #expect(hours.maximum == 0.4)
        #expect(hours.ticks.count == 5)
        #expect(ChartScale.label(12_000) == "12k")
        #expect(ChartScale.label(2_500_000) == "2.5M")
        #expect(ChartScale.label(0.25) == "0.25")
        #expect(SVGNumber.text(12.0) == "12")
        #expect(SVGNumber.text(-0.04) == "0")
        #expect(SVGNumber.text(3.14159, decimals: 2) == "3.14")
    }

    @Test func stackedBarsReachTheStackTotalAndCarryTooltips() {
        let chart = ReportChart(
            title: "Alerts", style: .stackedBars, categories: ["w1", "w2"],
            series: [.init(name: "ERROR", values: [2, 0], tone: .critical), .init(name: "WARN", values: [6, nil], tone: .warning)],
            unit: "alerts")
        let svg = SVGChart(chart: chart, id: "c1")
        #expect(svg.largestValue == 8)
        let text = svg.render()
        #expect(text.hasPrefix("<svg"))
        #expect(text.contains("role=\"img\" aria-labelledby=\"c1-title c1-desc\""))
        #expect(text.contains("<title id=\"c1-title\">Alerts</title>"))
        // One bar per positive value, each with its tooltip; zero and missing values draw nothing.
        #expect(text.components(separatedBy: "<rect x=").count - 1 == 2 + 2) // 2 legend swatches + 2 bars
        #expect(text.contains("<title>w1 · WARN: 6</title>"))
        #expect(text.contains("fill=\"#D55E00\""))
        #expect(!text.contains("No data"))
        #expect(svg.description.contains("largest value 8"))
    }

    @Test func linesBreakAtMissingValuesAndEmptyChartsSaySo() {
        let chart = ReportChart(
            title: "Hours", style: .lines, categories: ["a", "b", "c", "d"],
            series: [.init(name: "Mean", values: [1.5, nil, 2, 3])], unit: "hours")
        let text = SVGChart(chart: chart, id: "c2").render()
        let path = text.components(separatedBy: "<path d=\"").dropFirst().first?.prefix { $0 != "\"" }
        // Two separate runs: a lone point, then two joined points.
        #expect(path?.filter { $0 == "M" }.count == 2)
        #expect(path?.filter { $0 == "L" }.count == 1)
        #expect(text.components(separatedBy: "<circle").count - 1 == 3)
        let empty = ReportChart(title: "Nothing", style: .groupedBars, categories: ["a"], series: [.init(name: "x", values: [nil])], unit: "n")
        #expect(empty.isEmpty)
        #expect(SVGChart(chart: empty, id: "c3").render().contains("No data in this period"))
    }

    @Test func pivotMakesOneSeriesPerValueLargestFirst() {
        let section = ReportSection(
            id: "s", title: "t", summary: "", source: "x",
            columns: [.init("week", .day), .init("kind", .text), .init("failed", .integer)],
            rows: [[.day("2025-01-13"), .text("ISSUE_CERT"), .integer(1)], [.day("2025-01-13"), .text("RENEW_CERT"), .integer(5)],
                   [.day("2025-01-20"), .text("ISSUE_CERT"), .integer(2)]])
        let chart = ReportChart.pivot(
            section, title: "t", style: .stackedBars, category: "week", seriesColumn: "kind", value: "failed", unit: "n",
            allCategories: ["2025-01-06", "2025-01-13", "2025-01-20"])
        #expect(chart.categories == ["2025-01-06", "2025-01-13", "2025-01-20"])
        #expect(chart.series.map(\.name) == ["RENEW_CERT", "ISSUE_CERT"])
        #expect(chart.series[0].values == [nil, 5, nil])
        #expect(chart.series[1].values == [nil, 1, 2])
    }

    @Test func legendWrapsInsteadOfRunningOffTheChart() {
        let names = (1...12).map { "A_RATHER_LONG_JOB_KIND_\($0)" }
        let chart = ReportChart(
            title: "t", style: .stackedBars, categories: ["w"], series: names.map { .init(name: $0, values: [1]) }, unit: "n")
        let svg = SVGChart(chart: chart, id: "c").render()
        let xs = svg.components(separatedBy: "class=\"legend\" x=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
        #expect(xs.count == 12)
        #expect(xs.allSatisfy { $0 < 980 - 100 })
    }

    @Test func csvQuotesByRFC4180AndNamesEachRowsSection() {
        let csv = CSVReport(Self.sample(errorText: "boom, \"bad\"\nsecond line")).render()
        let lines = csv.components(separatedBy: "\r\n")
        #expect(lines[0] == "section,figure,label,value,unit,week_starting,issued,mean_hours,kind,error_pattern,last_seen")
        #expect(lines[1] == "figures,issued,Certificates issued,3,,,,,,,")
        #expect(lines[3] == "certificate_trends,,,,,2025-01-06,3,2.5,,,")
        #expect(lines[4] == "certificate_trends,,,,,2025-01-13,0,,,,")
        #expect(csv.contains("job_failure_patterns,,,,,,,,ISSUE_CERT,\"boom, \"\"bad\"\"\nsecond line\",2025-01-04T14:13:20Z\r\n"))
        #expect(csv.hasSuffix("\r\n"))
        #expect(CSVReport.field(" padded") == "\" padded\"")
        #expect(CSVReport.field("plain") == "plain")
    }

    @Test func csvOfOnePartHasJustItsColumns() throws {
        let one = try Self.sample().selecting(sections: ["certificate_trends"])
        #expect(CSVReport(one).render() == "week_starting,issued,mean_hours\r\n2025-01-06,3,2.5\r\n2025-01-13,0,\r\n")
        let figures = try Self.sample().selecting(sections: ["figures"])
        #expect(CSVReport(figures).render().hasPrefix("figure,label,value,unit\r\nissued,Certificates issued,3,\r\n"))
    }

    @Test func selectingAnUnknownSectionNamesTheKnownOnes() {
        #expect(throws: ReportError("the weekly report has no section 'nope'; its sections are: figures, certificate_trends, job_failure_patterns")) {
            try Self.sample().selecting(sections: ["nope"])
        }
    }

    @Test func jsonIsTypedAndKeyedById() throws {
        let text = try ReportJSON.render(Self.sample())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["report"] as? String == "weekly")
        #expect(object["section_order"] as? [String] == ["certificate_trends", "job_failure_patterns"])
        let sections = try #require(object["sections"] as? [String: Any])
        let trends = try #require(sections["certificate_trends"] as? [String: Any])
        let rows = try #require(trends["rows"] as? [[String: Any]])
        #expect(rows[0]["issued"] as? Int == 3)
        #expect(rows[0]["mean_hours"] as? Double == 2.5)
        #expect(rows[1]["mean_hours"] is NSNull)
        #expect(rows[0]["week_starting"] as? String == "2025-01-06")
        let figures = try #require(object["figures"] as? [String: [String: Any]])
        #expect(figures["expired_without_successor"]?["needs_attention"] as? Bool == true)
        let period = try #require(object["period"] as? [String: String])
        #expect(period["from"] == "2025-01-06T00:00:00Z")
    }

    @Test func columnsReadTheDatabaseTextByKind() throws {
        #expect(try ReportColumn("n", .integer).value(fromDatabaseText: "42") == .integer(42))
        #expect(try ReportColumn("n", .integer).value(fromDatabaseText: nil) == .null)
        #expect(try ReportColumn("d", .decimal).value(fromDatabaseText: "66.7") == .decimal(66.7))
        #expect(try ReportColumn("w", .day).value(fromDatabaseText: "2025-01-06") == .day("2025-01-06"))
        #expect(try ReportColumn("f", .flag).value(fromDatabaseText: "t") == .flag(true))
        #expect(throws: ReportError("column n should hold a integer value but the database returned 'x1'")) {
            try ReportColumn("n", .integer).value(fromDatabaseText: "x1")
        }
        #expect(ReportColumn("mean_hours_to_renew", .decimal).label == "Mean hours to renew")
        #expect(ReportValue.decimal(7.0).displayText == "7")
        #expect(ReportValue.timestamp(Date(timeIntervalSince1970: 0.75)).machineText == "1970-01-01T00:00:00Z")
    }

    @Test func weeklyFiguresWeighTheMeanTimeToRenewByTimedRenewals() {
        let renewals = ReportSection(
            id: "renewal_times", title: "", summary: "", source: "",
            columns: [.init("week_starting", .day), .init("renewals_timed", .integer), .init("mean_hours_to_renew", .decimal)],
            rows: [[.day("a"), .integer(3), .decimal(1)], [.day("b"), .integer(1), .decimal(5)], [.day("c"), .integer(0), .null]])
        let upcoming = ReportSection(
            id: "upcoming_expiries", title: "", summary: "", source: "",
            columns: [.init("week_starting", .day), .init("without_automatic_renewal", .integer)],
            rows: [[.day("a"), .integer(2)], [.day("b"), .integer(1)]])
        let figures = WeeklyReport.figures([renewals, upcoming])
        let byId = Dictionary(uniqueKeysWithValues: figures.map { ($0.id, $0) })
        #expect(byId["mean_hours_to_renew"]?.value == .decimal(2))
        #expect(byId["expiring_without_automatic_renewal"]?.value == .integer(3))
        #expect(byId["expiring_without_automatic_renewal"]?.needsAttention == true)
        #expect(byId["issued"]?.value == .null)
        #expect(byId["revoked"]?.needsAttention == false)
    }

    @Test func chromiumConsoleLinesAreFound() {
        let log = """
            [1:1:1203/070318.229675:WARNING:media/gpu/vaapi/vaapi_wrapper.cc:1655] drmGetDevices2() has not found any devices
            [12734:12734:1203/070319.310079:INFO:CONSOLE:1] "oops", source: file:///tmp/x.html (1)
            [12734:12734:1203/070319.312411:INFO:CONSOLE(7)] "Uncaught Error: boom", source: file:///tmp/x.html (7)
            """
        #expect(HeadlessChromium.consoleMessages(in: log) == ["\"oops\", source: file:///tmp/x.html (1)",
                                                      "\"Uncaught Error: boom\", source: file:///tmp/x.html (7)"])
    }
}
