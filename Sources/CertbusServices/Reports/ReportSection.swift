import Foundation

/// One part of a report: a titled table of rows, what it means, where it comes from in the
/// database, and optionally a chart drawn from it.
public struct ReportSection: Sendable, Equatable {
    /// How a section is best shown.
    public enum Layout: String, Sendable, Equatable, Encodable {
        /// Rows and columns.
        case table
        /// One row of named figures (the daily summary), shown as "label  value" lines.
        case figures
    }

    /// A short stable name (`certificate_trends`): the JSON key, the CSV `section` value, the
    /// HTML anchor and what `--section` selects.
    public var id: String
    /// The heading ("Certificates issued, renewed, revoked and expired per week").
    public var title: String
    /// One or two sentences saying what the numbers mean.
    public var summary: String
    /// The SQL view or function the rows come from (`certbus.report_renewal_times`), so a DBA
    /// can query the same in psql.
    public var source: String
    /// The columns, in order.
    public var columns: [ReportColumn]
    /// The rows; each has one value per column.
    public var rows: [[ReportValue]]
    /// When the rows were cut to a limit: how many there were in all.
    public var totalRows: Int?
    /// The section's layout.
    public var layout: Layout
    /// A chart of the rows, if the section has one.
    public var chart: ReportChart?

    /// A section.
    public init(
        id: String, title: String, summary: String, source: String, columns: [ReportColumn], rows: [[ReportValue]],
        totalRows: Int? = nil, layout: Layout = .table, chart: ReportChart? = nil
    ) {
        self.id = id
        self.title = title
        self.summary = summary
        self.source = source
        self.columns = columns
        self.rows = rows
        self.totalRows = totalRows
        self.layout = layout
        self.chart = chart
    }

    /// The position of column `name`, if the section has it.
    public func columnIndex(_ name: String) -> Int? { columns.firstIndex { $0.name == name } }

    /// Every row's value of column `name` (empty when there is no such column).
    public func values(of name: String) -> [ReportValue] {
        guard let index = columnIndex(name) else { return [] }
        return rows.map { $0[index] }
    }

    /// The sum of column `name`'s numbers (NULLs count as nothing).
    public func total(of name: String) -> Double { values(of: name).compactMap(\.number).reduce(0, +) }

    /// "showing 200 of 5,120 rows" when the rows were cut, else nil.
    public var truncationNote: String? {
        guard let totalRows, totalRows > rows.count else { return nil }
        return "showing the first \(rows.count) of \(totalRows) rows; query \(source) for all"
    }
}

extension ReportSection: Encodable {
    enum CodingKeys: String, CodingKey {
        case id, title, summary, source, columns, rows, totalRows = "total_rows", layout
    }

    /// JSON: the section's facts, its columns, and each row as an object keyed by column name.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(title, forKey: .title)
        try container.encode(summary, forKey: .summary)
        try container.encode(source, forKey: .source)
        try container.encode(columns, forKey: .columns)
        try container.encode(layout, forKey: .layout)
        try container.encode(totalRows ?? rows.count, forKey: .totalRows)
        let objects = rows.map { row in
            Dictionary(uniqueKeysWithValues: zip(columns.map(\.name), row))
        }
        try container.encode(objects, forKey: .rows)
    }
}
