import Foundation

/// What a chart shows, independent of how it is drawn: categories along the x axis (weeks,
/// job kinds), one or more named series of values, and how the series combine.
public struct ReportChart: Sendable, Equatable {
    /// How the series are drawn.
    public enum Style: String, Sendable, Equatable {
        /// Bars side by side in each category.
        case groupedBars
        /// Bars stacked on each other in each category (the stack's height is the total).
        case stackedBars
        /// One line per series through the categories; a missing value breaks the line.
        case lines
    }

    /// The meaning of a series' colour: `automatic` takes the next colour of the palette; the
    /// others give the same colour to the same meaning in every chart.
    public enum Tone: String, Sendable, Equatable {
        case automatic, good, neutral, warning, critical, muted
    }

    /// One named row of values, one per category (nil = no value, e.g. no renewals that week).
    public struct Series: Sendable, Equatable {
        /// The legend text.
        public var name: String
        /// One value per category.
        public var values: [Double?]
        /// What its colour should say.
        public var tone: Tone
        /// A series.
        public init(name: String, values: [Double?], tone: Tone = .automatic) {
            self.name = name
            self.values = values
            self.tone = tone
        }
    }

    /// The chart's title (also its accessible name).
    public var title: String
    /// How the series are drawn.
    public var style: Style
    /// The x axis labels, in order.
    public var categories: [String]
    /// The series, in legend order.
    public var series: [Series]
    /// What the values count or measure ("certificates", "hours"): the y axis title.
    public var unit: String

    /// A chart.
    public init(title: String, style: Style, categories: [String], series: [Series], unit: String) {
        self.title = title
        self.style = style
        self.categories = categories
        self.series = series
        self.unit = unit
    }

    /// True when there is nothing to draw: no categories, no value anywhere, or (for bars) no
    /// value above zero.
    public var isEmpty: Bool {
        categories.isEmpty || !series.contains { series in
            series.values.contains { value in value.map { style == .lines || $0 > 0 } ?? false }
        }
    }

    /// A chart of a section's columns: the x axis from `category` (e.g. `week_starting`),
    /// one series per entry of `series` (column name, legend text, tone).
    public static func columns(
        of section: ReportSection, title: String, style: Style, category: String,
        series: [(column: String, name: String, tone: Tone)], unit: String
    ) -> ReportChart {
        ReportChart(
            title: title, style: style, categories: section.values(of: category).map(\.displayText),
            series: series.map { Series(name: $0.name, values: section.values(of: $0.column).map(\.number), tone: $0.tone) },
            unit: unit)
    }

    /// A chart of a section in long form (one row per category and series, e.g. week and job
    /// kind): categories from `category` in order of first appearance, plus `allCategories`
    /// that have no row; one series per distinct value of `seriesColumn`, largest total first;
    /// values from `value` (nil where a category has no row for a series).
    public static func pivot(
        _ section: ReportSection, title: String, style: Style, category: String, seriesColumn: String, value: String,
        unit: String, allCategories: [String] = []
    ) -> ReportChart {
        let keys = section.values(of: category).map(\.displayText)
        let names = section.values(of: seriesColumn).map(\.displayText)
        let numbers = section.values(of: value).map(\.number)
        var categories: [String] = []
        for key in allCategories + keys where !categories.contains(key) { categories.append(key) }
        if !allCategories.isEmpty { categories.sort() }
        var order: [String] = []
        var table: [String: [String: Double]] = [:]
        for (index, name) in names.enumerated() {
            if table[name] == nil {
                order.append(name)
                table[name] = [:]
            }
            table[name]![keys[index], default: 0] += numbers[index] ?? 0
        }
        let totals = table.mapValues { $0.values.reduce(0, +) }
        order.sort { (totals[$0]!, $1) > (totals[$1]!, $0) }
        return ReportChart(
            title: title, style: style, categories: categories,
            series: order.map { name in Series(name: name, values: categories.map { table[name]![$0] }) }, unit: unit)
    }
}
