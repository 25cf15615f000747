import Foundation

/// A JSON value, as found in event payloads; what trigger conditions and templates read.
public enum PayloadValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([PayloadValue])
    case object([String: PayloadValue])

    /// Parses JSON text. Throws `DecodingError` for malformed JSON.
    public static func parse(json: Data) throws -> PayloadValue {
        try JSONDecoder().decode(PayloadValue.self, from: json)
    }

    /// Parses JSON text given as a string.
    public static func parse(json: String) throws -> PayloadValue {
        try parse(json: Data(json.utf8))
    }

    public init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([PayloadValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: PayloadValue].self))
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value):
            if value.rounded() == value, abs(value) < 9e15 { try container.encode(Int64(value)) } else { try container.encode(value) }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The value at a dotted path inside objects (`["ra_profile", "name"]`), or nil when any step is missing.
    public func value(at path: [String]) -> PayloadValue? {
        var current = self
        for key in path {
            guard case .object(let members) = current, let next = members[key] else { return nil }
            current = next
        }
        return current
    }

    /// The value as a number: numbers, and strings holding a decimal number.
    public var numberValue: Double? {
        switch self {
        case .number(let value): return value
        case .string(let text): return Double(text.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    /// Text for templates and messages: strings bare, numbers without a needless ".0", JSON otherwise.
    public var description: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let value):
            if value.rounded() == value, abs(value) < 9e15 { return String(Int64(value)) }
            return String(value)
        case .string(let value): return value
        case .array, .object:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
    }
}
