/// Renders an `OperationsReport` as one RFC 4180 CSV file.
///
/// A CSV file holds one table, but a report has several; so the file has one header and the
/// first column, `section`, says which part of the report a row belongs to: `figures` for the
/// key figures (columns `figure`, `label`, `value`, `unit`), then each section's id. The other
/// columns are the union of every part's columns in order of first appearance, and a row leaves
/// empty the columns its part does not have (a column name means the same in every section,
/// e.g. `week_starting`). Filter on `section` in a spreadsheet, or ask for one part only
/// with `certbus report weekly --format csv --section ID` (`figures` for the key figures): then
/// the file has just that part's columns and no `section` column.
///
/// Fields are quoted when they contain a comma, a double quote, a line break or leading or
/// trailing spaces; quotes are doubled; lines end with CRLF. NULL is an empty field; times
/// are ISO 8601 UTC.
public struct CSVReport: Sendable {
    /// The report to render.
    public let report: OperationsReport

    /// A renderer for `report`.
    public init(_ report: OperationsReport) { self.report = report }

    /// The column names of the key-figure rows.
    static let figureColumns = ["figure", "label", "value", "unit"]

    /// The CSV text.
    public func render() -> String {
        if report.figures.isEmpty, report.sections.count == 1, let only = report.sections.first {
            return ([only.columns.map(\.name)] + only.rows.map { $0.map(\.machineText) }).map(Self.line).joined()
        }
        if report.sections.isEmpty {
            return ([Self.figureColumns] + report.figures.map(figureFields)).map(Self.line).joined()
        }
        var header = ["section"]
        func add(_ names: [String]) { for name in names where !header.contains(name) { header.append(name) } }
        if !report.figures.isEmpty { add(Self.figureColumns) }
        for section in report.sections { add(section.columns.map(\.name)) }
        var lines = [Self.line(header)]
        for figure in report.figures {
            lines.append(Self.line(row(header, section: OperationsReport.figuresId, names: Self.figureColumns,
                                       values: figureFields(figure))))
        }
        for section in report.sections {
            for values in section.rows {
                lines.append(Self.line(row(header, section: section.id, names: section.columns.map(\.name),
                                           values: values.map(\.machineText))))
            }
        }
        return lines.joined()
    }

    private func figureFields(_ figure: OperationsReport.Figure) -> [String] {
        [figure.id, figure.label, figure.value.machineText, figure.unit]
    }

    private func row(_ header: [String], section: String, names: [String], values: [String]) -> [String] {
        var fields = Array(repeating: "", count: header.count)
        fields[0] = section
        for (name, value) in zip(names, values) {
            if let index = header.firstIndex(of: name) { fields[index] = value }
        }
        return fields
    }

    /// One CSV line (CRLF-terminated) of `fields`.
    static func line(_ fields: [String]) -> String { fields.map(field).joined(separator: ",") + "\r\n" }

    /// One field, quoted when RFC 4180 requires it (or spaces at either end would be lost by readers).
    static func field(_ text: String) -> String {
        let needsQuotes = text.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            || text.first == " " || text.last == " "
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
