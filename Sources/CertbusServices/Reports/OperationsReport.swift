import Foundation

/// A daily or weekly operations report: the key figures, then sections of tables and charts.
/// Built from the database by `WeeklyReport` and `DailyReport`; rendered by `HTMLReport`,
/// `CSVReport` and `ReportJSON` (and as text tables by the `certbus report` command).
public struct OperationsReport: Sendable, Equatable {
    /// Which routine the report serves.
    public enum Kind: String, Sendable, Equatable, Encodable {
        case daily, weekly
    }

    /// One headline number ("Certificates renewed: 340").
    public struct Figure: Sendable, Equatable, Encodable {
        /// A short stable name (`renewed`), the JSON key.
        public var id: String
        /// What it counts or measures.
        public var label: String
        /// The number (or NULL when there is nothing to measure).
        public var value: ReportValue
        /// The unit shown after the number ("h"), empty for counts.
        public var unit: String
        /// True when a non-zero value needs someone's attention (shown highlighted).
        public var needsAttention: Bool

        /// A figure.
        public init(id: String, label: String, value: ReportValue, unit: String = "", needsAttention: Bool = false) {
            self.id = id
            self.label = label
            self.value = value
            self.unit = unit
            self.needsAttention = needsAttention
        }

        enum CodingKeys: String, CodingKey {
            case id, label, value, unit, needsAttention = "needs_attention"
        }
    }

    /// Daily or weekly.
    public var kind: Kind
    /// The page title ("certbus weekly report").
    public var title: String
    /// When the report was made (database clock).
    public var generatedAt: Date
    /// The period the report covers: [start, end).
    public var periodStart: Date
    /// The end of the period (the database's now()).
    public var periodEnd: Date
    /// Headline numbers, shown first.
    public var figures: [Figure]
    /// The sections, in order.
    public var sections: [ReportSection]

    /// A report.
    public init(
        kind: Kind, title: String, generatedAt: Date, periodStart: Date, periodEnd: Date, figures: [Figure],
        sections: [ReportSection]
    ) {
        self.kind = kind
        self.title = title
        self.generatedAt = generatedAt
        self.periodStart = periodStart
        self.periodEnd = periodEnd
        self.figures = figures
        self.sections = sections
    }

    /// The ids of the sections, in order.
    public var sectionIds: [String] { sections.map(\.id) }

    /// The id that selects the key figures in `selecting(sections:)`.
    public static let figuresId = "figures"

    /// The same report with only the parts named in `ids`, in the report's order: section ids,
    /// and `figures` for the key figures (left out unless named). Throws `ReportError` naming an
    /// unknown id and listing the known ones.
    public func selecting(sections ids: [String]) throws -> OperationsReport {
        let known = (figures.isEmpty ? [] : [Self.figuresId]) + sectionIds
        if let unknown = ids.first(where: { !known.contains($0) }) {
            throw ReportError(
                "the \(kind.rawValue) report has no section '\(unknown)'; its sections are: \(known.joined(separator: ", "))")
        }
        var copy = self
        copy.sections = sections.filter { ids.contains($0.id) }
        if !ids.contains(Self.figuresId) { copy.figures = [] }
        return copy
    }

    /// "2025-01-06 00:00:00Z to 2025-03-02 14:05:11Z".
    public var periodText: String {
        "\(ReportValue.timestamp(periodStart).displayText) to \(ReportValue.timestamp(periodEnd).displayText)"
    }
}

extension OperationsReport: Encodable {
    enum CodingKeys: String, CodingKey {
        case kind = "report", title, generatedAt = "generated_at", period, figures, sections, sectionOrder = "section_order"
    }

    /// JSON: `{"report": "weekly", "generated_at": ..., "period": {"from", "until"}, "figures": {id: {...}},
    /// "section_order": [ids], "sections": {id: {...}}}`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(kind, forKey: .kind)
        try container.encode(title, forKey: .title)
        try container.encode(ReportValue.timestamp(generatedAt), forKey: .generatedAt)
        try container.encode(
            ["from": ReportValue.timestamp(periodStart), "until": ReportValue.timestamp(periodEnd)], forKey: .period)
        try container.encode(Dictionary(uniqueKeysWithValues: figures.map { ($0.id, $0) }), forKey: .figures)
        try container.encode(sectionIds, forKey: .sectionOrder)
        try container.encode(Dictionary(uniqueKeysWithValues: sections.map { ($0.id, $0) }), forKey: .sections)
    }
}
