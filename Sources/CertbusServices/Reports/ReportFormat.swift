/// The output formats of `certbus report daily|weekly --format`.
public enum ReportFormat: String, CaseIterable, Sendable {
    /// Aligned text tables for a terminal (the default).
    case table
    /// One self-contained HTML page with inline SVG charts (`HTMLReport`).
    case html
    /// One RFC 4180 CSV file (`CSVReport`).
    case csv
    /// JSON for scripts (`ReportJSON`).
    case json

    /// The file name extension people expect for this format.
    public var fileExtension: String {
        switch self {
        case .table: return "txt"
        case .html: return "html"
        case .csv: return "csv"
        case .json: return "json"
        }
    }
}
