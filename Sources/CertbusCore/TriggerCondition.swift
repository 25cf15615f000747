import Foundation

/// A condition on an event's payload, in the small matching language of event triggers
/// (grammar and semantics in docs/events-and-alerts.md). Build one with `TriggerCondition.parse(_:)`.
///
/// Examples: `days_left <= 7`, `new_status in (EXPIRED, REVOKED)`,
/// `action = RENEW and outcome = FAILURE`, `days_left between 1 and 7 or not group_id exists`.
public indirect enum TriggerCondition: Sendable, Equatable, CustomStringConvertible {
    /// Matches every payload (no condition).
    case always
    /// All must match.
    case all([TriggerCondition])
    /// At least one must match.
    case any([TriggerCondition])
    /// The inner condition must not match.
    case not(TriggerCondition)
    /// `path op literal`.
    case compare(path: [String], op: ComparisonOperator, value: PayloadValue)
    /// `path in (a, b, ...)`: equal to one of the values.
    case oneOf(path: [String], values: [PayloadValue])
    /// `path between low and high`: a number in the closed range.
    case between(path: [String], low: Double, high: Double)
    /// `path exists`: present and not null.
    case exists(path: [String])
    /// `path contains value`: an array holding an element equal to it, or a string containing it.
    case contains(path: [String], value: PayloadValue)

    /// A comparison operator.
    public enum ComparisonOperator: String, Sendable, Equatable, CaseIterable {
        case equal = "="
        case notEqual = "!="
        case less = "<"
        case lessOrEqual = "<="
        case greater = ">"
        case greaterOrEqual = ">="
    }

    /// Whether the payload satisfies the condition. A missing field makes `=`, `<`, `<=`, `>`, `>=`,
    /// `in`, `between` and `contains` false; `!=` is exactly `not =` (so it is true for a missing field).
    public func matches(_ payload: PayloadValue) -> Bool {
        switch self {
        case .always:
            return true
        case .all(let parts):
            return parts.allSatisfy { $0.matches(payload) }
        case .any(let parts):
            return parts.contains { $0.matches(payload) }
        case .not(let inner):
            return !inner.matches(payload)
        case .compare(let path, let op, let literal):
            let field = payload.value(at: path)
            switch op {
            case .equal: return Self.equals(field, literal)
            case .notEqual: return !Self.equals(field, literal)
            case .less, .lessOrEqual, .greater, .greaterOrEqual:
                guard let field, let order = Self.order(field, literal) else { return false }
                switch op {
                case .less: return order < 0
                case .lessOrEqual: return order <= 0
                case .greater: return order > 0
                default: return order >= 0
                }
            }
        case .oneOf(let path, let values):
            let field = payload.value(at: path)
            return values.contains { Self.equals(field, $0) }
        case .between(let path, let low, let high):
            guard let number = payload.value(at: path)?.numberValue else { return false }
            return number >= low && number <= high
        case .exists(let path):
            guard let field = payload.value(at: path) else { return false }
            return field != .null
        case .contains(let path, let literal):
            switch payload.value(at: path) {
            case .array(let elements)?: return elements.contains { Self.equals($0, literal) }
            case .string(let text)?:
                if case .string(let needle) = literal { return text.contains(needle) }
                return text.contains(literal.description)
            default: return false
            }
        }
    }

    /// Equality of a field with a literal: same-kind values compare directly (strings case-sensitively);
    /// a number and a numeric string compare as numbers; `null` equals a missing or null field.
    static func equals(_ field: PayloadValue?, _ literal: PayloadValue) -> Bool {
        guard let field else { return literal == .null }
        switch (field, literal) {
        case (.string(let a), .string(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.bool(let a), .bool(let b)): return a == b
        case (.null, .null): return true
        case (.number, .string), (.string, .number):
            guard let a = field.numberValue, let b = literal.numberValue else { return false }
            return a == b
        default: return field == literal
        }
    }

    /// -1, 0, 1 for numbers (or numeric strings against numbers) and for two strings; nil otherwise.
    static func order(_ field: PayloadValue, _ literal: PayloadValue) -> Int? {
        if case .string(let a) = field, case .string(let b) = literal {
            return a < b ? -1 : (a == b ? 0 : 1)
        }
        guard let a = field.numberValue, let b = literal.numberValue else { return nil }
        return a < b ? -1 : (a == b ? 0 : 1)
    }

    /// The condition in canonical text; parsing it gives back an equal condition.
    public var description: String { render(topLevel: true) }

    func render(topLevel: Bool) -> String {
        switch self {
        case .always: return ""
        case .all(let parts):
            let text = parts.map { $0.render(topLevel: false) }.joined(separator: " and ")
            return topLevel ? text : "(\(text))"
        case .any(let parts):
            let text = parts.map { $0.render(topLevel: false) }.joined(separator: " or ")
            return topLevel ? text : "(\(text))"
        case .not(let inner): return "not \(inner.render(topLevel: false))"
        case .compare(let path, let op, let value): return "\(path.joined(separator: ".")) \(op.rawValue) \(Self.literal(value))"
        case .oneOf(let path, let values):
            return "\(path.joined(separator: ".")) in (\(values.map(Self.literal).joined(separator: ", ")))"
        case .between(let path, let low, let high):
            return "\(path.joined(separator: ".")) between \(PayloadValue.number(low)) and \(PayloadValue.number(high))"
        case .exists(let path): return "\(path.joined(separator: ".")) exists"
        case .contains(let path, let value): return "\(path.joined(separator: ".")) contains \(Self.literal(value))"
        }
    }

    static func literal(_ value: PayloadValue) -> String {
        switch value {
        case .string(let text): return "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        default: return value.description
        }
    }
}
