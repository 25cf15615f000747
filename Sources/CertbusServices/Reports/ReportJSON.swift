import Foundation

/// Renders an `OperationsReport` as JSON for scripts: pretty-printed with sorted keys (stable
/// and diffable, like every certbus `--json` output). Sections and figures are objects keyed by
/// id; `section_order` keeps the report's order; each section lists its `columns` (name, label,
/// kind) and its `rows` as objects keyed by column name, numbers as numbers, times as ISO 8601.
public enum ReportJSON {
    /// The JSON text followed by a newline.
    public static func render(_ report: OperationsReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }
}
