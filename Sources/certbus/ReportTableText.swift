import CertbusArguments
import CertbusServices

/// `certbus report ... --format table`: the report as aligned text for a terminal, one block
/// per part headed `== Title (source)`, as the report commands always printed it.
enum ReportTableText {
    /// The report as text.
    static func render(_ report: OperationsReport) -> String {
        var out = ""
        if !report.figures.isEmpty {
            let source = report.kind == .daily ? " (certbus.daily_operations_summary)" : ""
            out += "== \(report.kind == .daily ? "Summary" : "Key figures")\(source)\n"
            let width = report.figures.map(\.label.count).max() ?? 0
            for figure in report.figures {
                let value = figure.value == .null ? "-" : figure.value.displayText + (figure.unit.isEmpty ? "" : " " + figure.unit)
                out += figure.label + String(repeating: " ", count: width - figure.label.count + 2) + value + "\n"
            }
            out += "\n"
        }
        for section in report.sections {
            out += "== \(section.title) (\(section.source))\n"
            if section.rows.isEmpty {
                out += "(none)\n\n"
                continue
            }
            let table = TableFormatter(section.columns.map { column in
                let numeric = column.kind == .integer || column.kind == .decimal
                return TableFormatter.Column(column.name.uppercased(), alignment: numeric ? .right : .left, maxWidth: 60)
            })
            out += table.render(section.rows.map { $0.map(\.displayText) })
            if let note = section.truncationNote { out += "(\(note))\n" }
            out += "\n"
        }
        return out
    }
}
