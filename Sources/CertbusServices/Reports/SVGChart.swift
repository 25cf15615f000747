import Foundation

/// Draws a `ReportChart` as a self-contained inline SVG: a visible title, a legend, a value
/// axis with gridlines and a title, category labels, and bars or lines. Every bar and point
/// carries a `<title>` (the browser's tooltip: category, series and value), and the whole
/// chart is an image with an accessible name and description. No script, no external
/// reference: it renders the same in any browser and in print.
struct SVGChart {
    /// The chart to draw.
    let chart: ReportChart
    /// A page-unique id prefix for the title and description elements.
    let id: String
    /// Width and height in CSS pixels (the SVG scales down with the page via its viewBox).
    var width = 980.0
    var height = 320.0

    /// The colours of the palette for `automatic` series, in order (Okabe–Ito, readable with
    /// the common colour-vision deficiencies).
    static let palette = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#6A3D9A", "#666666"]

    /// The colour of each tone.
    static func colour(_ tone: ReportChart.Tone, index: Int) -> String {
        switch tone {
        case .automatic: return palette[index % palette.count]
        case .good: return "#009E73"
        case .neutral: return "#0072B2"
        case .warning: return "#E69F00"
        case .critical: return "#D55E00"
        case .muted: return "#9A9A9A"
        }
    }

    // Layout (CSS pixels). The plot starts below the title and the legend's rows.
    private let left = 64.0, right = 16.0, bottom = 44.0
    private var top: Double { 44 + Double(legendLayout.rows) * 18 }

    /// Where each legend entry goes: entries flow left to right and wrap onto new rows.
    private var legendLayout: (positions: [(x: Double, row: Int)], rows: Int) {
        var positions: [(x: Double, row: Int)] = []
        var x = left
        var row = 0
        for series in chart.series {
            let itemWidth = 17 + Double(series.name.count) * 6.6 + 18
            if x + itemWidth > width - right, x > left {
                row += 1
                x = left
            }
            positions.append((x, row))
            x += itemWidth
        }
        return (positions, row + 1)
    }

    private var plotWidth: Double { width - left - right }
    private var plotHeight: Double { height - top - bottom }

    /// The largest value the axis must reach: the tallest stack for stacked bars, else the
    /// largest single value.
    var largestValue: Double {
        switch chart.style {
        case .stackedBars:
            return chart.categories.indices.map { index in
                chart.series.compactMap { $0.values[safe: index] ?? nil }.filter { $0 > 0 }.reduce(0, +)
            }.max() ?? 0
        case .groupedBars, .lines:
            return chart.series.flatMap { $0.values.compactMap { $0 } }.max() ?? 0
        }
    }

    /// Whether every value is a whole number (then the axis never shows fractions).
    var isIntegral: Bool {
        chart.series.allSatisfy { $0.values.allSatisfy { $0.map { $0 == $0.rounded() } ?? true } }
    }

    /// The SVG element.
    func render() -> String {
        let scale = ChartScale(largest: largestValue, integral: isIntegral)
        var svg = """
            <svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(n(width)) \(n(height))" \
            width="\(n(width))" height="\(n(height))" role="img" aria-labelledby="\(id)-title \(id)-desc">
            <title id="\(id)-title">\(e(chart.title))</title>
            <desc id="\(id)-desc">\(e(description))</desc>
            <text class="chart-title" x="\(n(left))" y="18">\(e(chart.title))</text>

            """
        svg += legend()
        svg += axes(scale)
        if chart.isEmpty {
            svg += """
                <text class="chart-empty" x="\(n(left + plotWidth / 2))" y="\(n(top + plotHeight / 2))" \
                text-anchor="middle">No data in this period</text>

                """
        } else {
            switch chart.style {
            case .groupedBars: svg += groupedBars(scale)
            case .stackedBars: svg += stackedBars(scale)
            case .lines: svg += lines(scale)
            }
        }
        svg += categoryLabels()
        return svg + "</svg>"
    }

    /// A sentence for screen readers: what is drawn, over which categories, the largest value.
    var description: String {
        let kind: String
        switch chart.style {
        case .groupedBars: kind = "Bar chart"
        case .stackedBars: kind = "Stacked bar chart"
        case .lines: kind = "Line chart"
        }
        let names = chart.series.map(\.name).joined(separator: ", ")
        guard let first = chart.categories.first, let last = chart.categories.last, !chart.isEmpty else {
            return "\(kind) of \(chart.unit) (\(names)): no data in this period."
        }
        return "\(kind) of \(chart.unit) (\(names)) for \(chart.categories.count) categories from \(first) to \(last); "
            + "largest value \(SVGNumber.text(largestValue, decimals: 2))."
    }

    private func legend() -> String {
        var out = ""
        let positions = legendLayout.positions
        for (index, series) in chart.series.enumerated() {
            let colour = Self.colour(series.tone, index: index)
            let (x, row) = positions[index]
            let y = 30 + Double(row) * 18
            out += "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"12\" height=\"12\" fill=\"\(colour)\"/>"
            out += "<text class=\"legend\" x=\"\(n(x + 17))\" y=\"\(n(y + 10))\">\(e(series.name))</text>\n"
        }
        return out
    }

    private func axes(_ scale: ChartScale) -> String {
        var out = ""
        for tick in scale.ticks {
            let y = scale.y(tick, top: top, height: plotHeight)
            out += "<line class=\"grid\" x1=\"\(n(left))\" y1=\"\(n(y))\" x2=\"\(n(left + plotWidth))\" y2=\"\(n(y))\"/>"
            out += "<text class=\"tick\" x=\"\(n(left - 6))\" y=\"\(n(y + 4))\" text-anchor=\"end\">\(ChartScale.label(tick))</text>\n"
        }
        out += "<line class=\"axis\" x1=\"\(n(left))\" y1=\"\(n(top))\" x2=\"\(n(left))\" y2=\"\(n(top + plotHeight))\"/>"
        out += "<line class=\"axis\" x1=\"\(n(left))\" y1=\"\(n(top + plotHeight))\" x2=\"\(n(left + plotWidth))\" y2=\"\(n(top + plotHeight))\"/>\n"
        let middle = top + plotHeight / 2
        out += "<text class=\"axis-title\" x=\"14\" y=\"\(n(middle))\" text-anchor=\"middle\" "
            + "transform=\"rotate(-90 14 \(n(middle)))\">\(e(chart.unit))</text>\n"
        return out
    }

    /// The width of one category's band.
    private var band: Double { plotWidth / Double(max(1, chart.categories.count)) }

    private func groupedBars(_ scale: ChartScale) -> String {
        var out = ""
        let count = Double(max(1, chart.series.count))
        // Bars at most 36 px wide: a chart of two categories still looks like a bar chart.
        let barWidth = min(band * 0.8 / count, 36)
        let inset = (band - barWidth * count) / 2
        for (c, category) in chart.categories.enumerated() {
            for (s, series) in chart.series.enumerated() {
                guard let value = series.values[safe: c] ?? nil else { continue }
                let x = left + band * Double(c) + inset + barWidth * Double(s)
                let y = scale.y(value, top: top, height: plotHeight)
                out += bar(x: x, y: y, width: barWidth, height: top + plotHeight - y,
                           colour: Self.colour(series.tone, index: s), tooltip: "\(category) · \(series.name): \(SVGNumber.text(value, decimals: 2))")
            }
        }
        return out
    }

    private func stackedBars(_ scale: ChartScale) -> String {
        var out = ""
        let barWidth = min(band * 0.6, 72)
        let inset = (band - barWidth) / 2
        for (c, category) in chart.categories.enumerated() {
            var base = 0.0
            for (s, series) in chart.series.enumerated() {
                guard let value = series.values[safe: c] ?? nil, value > 0 else { continue }
                let yTop = scale.y(base + value, top: top, height: plotHeight)
                let yBottom = scale.y(base, top: top, height: plotHeight)
                out += bar(x: left + band * Double(c) + inset, y: yTop, width: barWidth, height: yBottom - yTop,
                           colour: Self.colour(series.tone, index: s), tooltip: "\(category) · \(series.name): \(SVGNumber.text(value, decimals: 2))")
                base += value
            }
        }
        return out
    }

    private func bar(x: Double, y: Double, width: Double, height: Double, colour: String, tooltip: String) -> String {
        "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(width))\" height=\"\(n(max(0, height)))\" fill=\"\(colour)\">"
            + "<title>\(e(tooltip))</title></rect>\n"
    }

    private func lines(_ scale: ChartScale) -> String {
        var out = ""
        for (s, series) in chart.series.enumerated() {
            let colour = Self.colour(series.tone, index: s)
            var path = ""
            var penDown = false
            var points = ""
            for (c, category) in chart.categories.enumerated() {
                guard let value = series.values[safe: c] ?? nil else {
                    penDown = false
                    continue
                }
                let x = left + band * (Double(c) + 0.5)
                let y = scale.y(value, top: top, height: plotHeight)
                path += (penDown ? "L" : "M") + "\(n(x)) \(n(y))"
                penDown = true
                points += "<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"3.5\" fill=\"\(colour)\">"
                    + "<title>\(e("\(category) · \(series.name): \(SVGNumber.text(value, decimals: 2))"))</title></circle>\n"
            }
            if !path.isEmpty {
                out += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(colour)\" stroke-width=\"2\"/>\n"
            }
            out += points
        }
        return out
    }

    /// The category labels under the axis; when they would overlap, every k-th only, and long
    /// ones cut with "…" (the full text stays in a `<title>`).
    private func categoryLabels() -> String {
        let count = chart.categories.count
        guard count > 0 else { return "" }
        let longest = Double(chart.categories.map(\.count).max() ?? 1)
        let labelWidth = min(longest, 16) * 6.6 + 8
        let every = max(1, Int((labelWidth / band).rounded(.up)))
        var out = ""
        for (c, category) in chart.categories.enumerated() where c % every == 0 {
            let x = left + band * (Double(c) + 0.5)
            let shown = category.count > 16 ? String(category.prefix(15)) + "…" : category
            out += "<text class=\"category\" x=\"\(n(x))\" y=\"\(n(top + plotHeight + 18))\" text-anchor=\"middle\">"
                + "<title>\(e(category))</title>\(e(shown))</text>\n"
        }
        return out
    }

    private func n(_ value: Double) -> String { SVGNumber.text(value, decimals: 1) }
    private func e(_ text: String) -> String { HTMLText.escape(text) }
}

fileprivate extension Array {
    /// The element at `index`, or nil when the index is out of range.
    subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}
