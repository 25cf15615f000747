/// Aligned, human-readable tables for terminal output.
///
/// ```
/// ID  KIND        STATUS
/// 12  ISSUE_CERT  QUEUED
/// 7   RENEW_CERT  SUCCESS
/// ```
/// Columns are separated by two spaces, trailing spaces are trimmed, line
/// breaks and tabs inside cells become spaces, and a column with a maximum
/// width truncates longer cells with "…".
public struct TableFormatter: Sendable {
    /// Which side of its column a cell hugs.
    public enum Alignment: Sendable { case left, right }

    /// A column's header and layout.
    public struct Column: Sendable {
        /// The header text.
        public var header: String
        /// Left for text, right for numbers.
        public var alignment: Alignment
        /// Cells longer than this are cut and end with "…"; nil means never.
        public var maxWidth: Int?
        /// A column.
        public init(_ header: String, alignment: Alignment = .left, maxWidth: Int? = nil) {
            self.header = header
            self.alignment = alignment
            self.maxWidth = maxWidth
        }
    }

    /// The columns, in order.
    public var columns: [Column]
    /// The text between columns.
    public var separator = "  "
    /// Whether to print the header row.
    public var showsHeader = true

    /// A table with these columns.
    public init(_ columns: [Column]) { self.columns = columns }
    /// A table of left-aligned, untruncated columns with these headers.
    public init(headers: [String]) { self.columns = headers.map { Column($0) } }

    /// The table as text, one line per row plus the header, each ending in a newline.
    /// Rows shorter than the header are padded with empty cells; extra cells are ignored.
    public func render(_ rows: [[String]]) -> String {
        let body = rows.map { row in
            columns.indices.map { index in cell(index < row.count ? row[index] : "", column: columns[index]) }
        }
        let header = columns.map { cell($0.header, column: $0) }
        let all = (showsHeader ? [header] : []) + body
        let widths = columns.indices.map { index in all.map { $0[index].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, text in
                let padding = String(repeating: " ", count: widths[index] - text.count)
                return columns[index].alignment == .left ? text + padding : padding + text
            }.joined(separator: separator).trimmingTrailingSpaces() + "\n"
        }.joined()
    }

    /// One cell: whitespace flattened, truncated to the column's maximum width.
    func cell(_ text: String, column: Column) -> String {
        let flat = String(text.map { $0 == "\n" || $0 == "\r" || $0 == "\t" || $0 == "\r\n" ? " " : $0 })
        guard let maxWidth = column.maxWidth, flat.count > maxWidth else { return flat }
        guard maxWidth > 1 else { return String(flat.prefix(maxWidth)) }
        return String(flat.prefix(maxWidth - 1)) + "…"
    }
}
