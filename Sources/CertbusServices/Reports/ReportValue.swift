import Foundation
import Postgres

/// One cell of a report table, typed so that every output format can show it properly: numbers
/// right-aligned and charted, days and times in ISO 8601, NULL as an empty cell.
public enum ReportValue: Sendable, Equatable {
    /// SQL NULL: nothing to show (e.g. a mean over no renewals).
    case null
    /// A count or an id.
    case integer(Int)
    /// A measured quantity (hours, percent), as PostgreSQL rounded it.
    case decimal(Double)
    /// Free text from the database (names, error messages): never trusted as markup.
    case text(String)
    /// A calendar day, `YYYY-MM-DD` (the Monday of a report week).
    case day(String)
    /// A point in time.
    case timestamp(Date)
    /// A yes/no fact.
    case flag(Bool)

    /// The value as a number for charts and sums; nil for NULL and non-numeric values.
    public var number: Double? {
        switch self {
        case .integer(let value): return Double(value)
        case .decimal(let value): return value
        default: return nil
        }
    }

    /// The value for people: integers as digits, decimals without a trailing ".0", days as
    /// `YYYY-MM-DD`, times as `YYYY-MM-DD HH:MM:SSZ` (UTC), flags as yes/no, NULL as "".
    public var displayText: String {
        switch self {
        case .null: return ""
        case .integer(let value): return String(value)
        case .decimal(let value): return Self.decimalText(value)
        case .text(let value), .day(let value): return value
        case .timestamp(let value): return String(Self.isoText(value).replacingOccurrences(of: "T", with: " "))
        case .flag(let value): return value ? "yes" : "no"
        }
    }

    /// The value for machines (CSV): like `displayText`, but times in full ISO 8601
    /// (`2025-01-31T12:00:00Z`) and flags as true/false.
    public var machineText: String {
        switch self {
        case .timestamp(let value): return Self.isoText(value)
        case .flag(let value): return value ? "true" : "false"
        default: return displayText
        }
    }

    /// Whether the value is a quantity (right-aligned in tables).
    public var isNumeric: Bool { number != nil }

    /// `12`, `12.5`, `-0.3`: the shortest text for a decimal rounded by the database.
    static func decimalText(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int(value)) }
        return String(value)
    }

    /// `2025-01-31T12:00:00Z`: whole seconds, UTC.
    static func isoText(_ date: Date) -> String {
        let full = PostgresTimestamp.format(Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)))
        guard let dot = full.firstIndex(of: ".") else { return full }
        return String(full[..<dot]) + "Z"
    }
}

/// A column of a report table: its name in the database, a heading for people and the kind
/// of value it holds (which decides how the database's text is read).
public struct ReportColumn: Sendable, Equatable, Encodable {
    /// What a column holds.
    public enum Kind: String, Sendable, Equatable, Encodable {
        case integer, decimal, text, day, timestamp, flag
    }

    /// The column's name in the query result, also its key in JSON and its CSV header.
    public var name: String
    /// The heading shown in HTML ("Mean hours to renew").
    public var label: String
    /// The kind of value.
    public var kind: Kind

    /// A column; the label defaults to the name with underscores as spaces, first letter upper case.
    public init(_ name: String, _ kind: Kind, label: String? = nil) {
        self.name = name
        self.kind = kind
        self.label = label ?? Self.defaultLabel(name)
    }

    /// `mean_hours_to_renew` → `Mean hours to renew`.
    static func defaultLabel(_ name: String) -> String {
        let spaced = name.replacingOccurrences(of: "_", with: " ")
        return spaced.prefix(1).uppercased() + spaced.dropFirst()
    }

    /// Reads the database's text for this column (nil = NULL). Throws `ReportError` when the
    /// text does not fit the kind, naming the column.
    public func value(fromDatabaseText text: String?) throws -> ReportValue {
        guard let text else { return .null }
        switch kind {
        case .integer:
            guard let value = Int(text) else { throw mismatch(text) }
            return .integer(value)
        case .decimal:
            guard let value = Double(text), value.isFinite else { throw mismatch(text) }
            return .decimal(value)
        case .text: return .text(text)
        case .day:
            guard text.count >= 10 else { throw mismatch(text) }
            return .day(String(text.prefix(10)))
        case .timestamp:
            guard let value = PostgresTimestamp.parse(text) else { throw mismatch(text) }
            return .timestamp(value)
        case .flag:
            guard text == "t" || text == "f" else { throw mismatch(text) }
            return .flag(text == "t")
        }
    }

    private func mismatch(_ text: String) -> ReportError {
        ReportError("column \(name) should hold a \(kind.rawValue) value but the database returned '\(text.prefix(40))'")
    }
}

/// A report that could not be made: a message saying what and why, for the operator.
public struct ReportError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong.
    public var message: String
    /// An error with this message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension ReportValue: Encodable {
    /// JSON: numbers as numbers, flags as booleans, NULL as null, everything else as text
    /// (times in ISO 8601).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .integer(let value): try container.encode(value)
        case .decimal(let value): try container.encode(value)
        case .flag(let value): try container.encode(value)
        default: try container.encode(machineText)
        }
    }
}
