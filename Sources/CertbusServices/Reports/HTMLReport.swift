import Foundation

/// Renders an `OperationsReport` as one self-contained HTML page: inline CSS, inline SVG charts
/// (`SVGChart`), the key figures, and each section's table. Nothing is fetched and nothing
/// runs: the page carries a Content-Security-Policy that forbids scripts and every external
/// resource, so it can be mailed, archived or opened offline and looks the same. Every value
/// from the database is escaped (`HTMLText`).
public struct HTMLReport: Sendable {
    /// The report to render.
    public let report: OperationsReport
    /// Who made the page, shown in the footer ("certbus 0.9.0").
    public let generator: String

    /// A renderer for `report`.
    public init(_ report: OperationsReport, generator: String = "certbus") {
        self.report = report
        self.generator = generator
    }

    /// The policy in the page's `<meta http-equiv="Content-Security-Policy">`: inline styles
    /// only; no script, font, image, frame or connection of any origin.
    public static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

    /// The page.
    public func render() -> String {
        var page = """
            <!DOCTYPE html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta http-equiv="Content-Security-Policy" content="\(Self.contentSecurityPolicy)">
            <meta name="generator" content="\(e(generator))">
            <title>\(e(report.title)) · \(e(report.periodText))</title>
            <style>\(Self.styleSheet)</style>
            </head>
            <body>
            <header>
            <h1>\(e(report.title))</h1>
            <p class="period">Period: \(e(report.periodText)) (UTC) · generated \(e(ReportValue.timestamp(report.generatedAt).displayText)) by \(e(generator))</p>
            </header>

            """
        page += navigation()
        page += figures()
        for (index, section) in report.sections.enumerated() {
            page += render(section, index: index)
        }
        page += """
            <footer>
            <p>Every table comes from a view or function of the <code>certbus</code> schema named under it; query it in psql for \
            more rows or other periods. This page is self-contained: it runs no script and fetches nothing.</p>
            </footer>
            </body>
            </html>

            """
        return page
    }

    private func navigation() -> String {
        guard report.sections.count > 1 else { return "" }
        var out = "<nav aria-label=\"Sections\"><ul>\n"
        if !report.figures.isEmpty { out += "<li><a href=\"#key-figures\">Key figures</a></li>\n" }
        for section in report.sections {
            out += "<li><a href=\"#\(HTMLText.identifier(section.id))\">\(e(section.title))</a></li>\n"
        }
        return out + "</ul></nav>\n"
    }

    private func figures() -> String {
        guard !report.figures.isEmpty else { return "" }
        var out = "<section id=\"key-figures\" aria-labelledby=\"key-figures-heading\">\n"
            + "<h2 id=\"key-figures-heading\">Key figures</h2>\n<dl class=\"figures\">\n"
        for figure in report.figures {
            let value = figure.value == .null ? "–" : figure.value.displayText + (figure.unit.isEmpty ? "" : " " + figure.unit)
            out += "<div class=\"figure\(figure.needsAttention ? " attention" : "")\" id=\"figure-\(HTMLText.identifier(figure.id))\">"
                + "<dt>\(e(figure.label))</dt><dd>\(e(value))</dd></div>\n"
        }
        return out + "</dl>\n</section>\n"
    }

    private func render(_ section: ReportSection, index: Int) -> String {
        let anchor = HTMLText.identifier(section.id)
        var out = "<section id=\"\(anchor)\" aria-labelledby=\"\(anchor)-heading\">\n"
            + "<h2 id=\"\(anchor)-heading\">\(e(section.title))</h2>\n"
            + "<p class=\"summary\">\(e(section.summary))</p>\n"
        if let chart = section.chart {
            out += "<figure>\n" + SVGChart(chart: chart, id: "chart-\(index + 1)").render() + "\n</figure>\n"
        }
        if section.rows.isEmpty {
            out += "<p class=\"empty\">\(report.kind == .weekly ? "Nothing in this period." : "None.")</p>\n"
        } else {
            out += table(section)
        }
        if let note = section.truncationNote { out += "<p class=\"note\">\(e(note)).</p>\n" }
        out += "<p class=\"source\">Source: <code>\(e(section.source))</code></p>\n</section>\n"
        return out
    }

    private func table(_ section: ReportSection) -> String {
        let numeric = section.columns.map { $0.kind == .integer || $0.kind == .decimal }
        // Text columns with long values (messages, errors) wrap anywhere; short ones (kinds,
        // names, days) never break, so a column is never squeezed into fragments of a word.
        let wraps = section.columns.indices.map { index in
            section.columns[index].kind == .text && section.rows.contains { $0[index].displayText.count > 24 }
        }
        var out = "<div class=\"table-wrap\"><table>\n<thead><tr>"
        for (index, column) in section.columns.enumerated() {
            out += "<th scope=\"col\"\(numeric[index] ? " class=\"num\"" : "")>\(e(column.label))</th>"
        }
        out += "</tr></thead>\n<tbody>\n"
        for row in section.rows {
            out += "<tr>"
            for (index, value) in row.enumerated() {
                let cls = numeric[index] ? " class=\"num\"" : wraps[index] ? " class=\"text\"" : " class=\"word\""
                out += "<td\(cls)>\(e(value.displayText))</td>"
            }
            out += "</tr>\n"
        }
        return out + "</tbody>\n</table></div>\n"
    }

    private func e(_ text: String) -> String { HTMLText.escape(text) }

    /// The page's CSS: system fonts only, readable tables, charts that shrink with the window,
    /// and a print layout without the navigation.
    static let styleSheet = """

        :root { color-scheme: light; --ink: #1d2330; --muted: #5b6475; --line: #d9dde5; --accent: #0072B2; --alert: #B8400B; }
        * { box-sizing: border-box; }
        body { margin: 0 auto; max-width: 1040px; padding: 24px 28px 40px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
        h1 { font-size: 26px; margin: 0 0 4px; }
        h2 { font-size: 19px; margin: 34px 0 6px; padding-top: 10px; border-top: 1px solid var(--line); }
        .period, .summary, .source, .note, .empty, footer { color: var(--muted); }
        .summary { max-width: 80ch; margin: 0 0 10px; }
        nav ul { list-style: none; padding: 0; margin: 14px 0 0; display: flex; flex-wrap: wrap; gap: 6px 14px; }
        nav a { color: var(--accent); text-decoration: none; }
        nav a:hover { text-decoration: underline; }
        .figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; margin: 8px 0 0; }
        .figure { border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; background: #f7f9fc; }
        .figure dt { font-size: 12px; color: var(--muted); }
        .figure dd { margin: 2px 0 0; font-size: 24px; font-weight: 600; font-variant-numeric: tabular-nums; }
        .figure.attention { border-color: var(--alert); background: #fff4ee; }
        .figure.attention dd { color: var(--alert); }
        figure { margin: 8px 0 12px; }
        svg.chart { max-width: 100%; height: auto; display: block; font-family: inherit; }
        svg .chart-title { font-size: 14px; font-weight: 600; fill: var(--ink); }
        svg .legend, svg .tick, svg .category { font-size: 11px; fill: var(--muted); }
        svg .axis-title { font-size: 11px; fill: var(--muted); }
        svg .chart-empty { font-size: 13px; fill: var(--muted); }
        svg .grid { stroke: #e6e9ef; stroke-width: 1; }
        svg .axis { stroke: #8a93a3; stroke-width: 1; }
        .table-wrap { overflow-x: auto; }
        table { border-collapse: collapse; width: 100%; font-size: 13px; }
        th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        th { background: #f1f4f8; font-weight: 600; }
        td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
        td.num, td.word { white-space: nowrap; }
        td.text { max-width: 44ch; overflow-wrap: anywhere; }
        code { font-size: 12px; }
        footer { margin-top: 36px; border-top: 1px solid var(--line); padding-top: 10px; font-size: 12px; }
        @media print { nav { display: none; } body { max-width: none; padding: 0; } section { break-inside: avoid-page; } }

        """
}
