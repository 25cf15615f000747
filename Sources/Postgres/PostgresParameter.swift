import Foundation

/// One query parameter as sent to the server: SQL NULL, a value in
/// PostgreSQL's text format, or raw bytes for `bytea`.
public enum PostgresParameter: Sendable, Equatable {
    case null
    case text(String)
    case bytea(Data)
}

/// A Swift value that can be passed as a `$n` query parameter.
public protocol PostgresEncodable: Sendable {
    /// The value in the form sent to the server.
    var postgresParameter: PostgresParameter { get }
}

extension String: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(self) }
}
extension Substring: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}
extension Int: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}
extension Int64: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}
extension Int32: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}
extension Int16: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(String(self)) }
}
extension Double: PostgresEncodable {
    public var postgresParameter: PostgresParameter {
        if isNaN { return .text("NaN") }
        if isInfinite { return .text(self < 0 ? "-Infinity" : "Infinity") }
        return .text(String(self))
    }
}
extension Bool: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(self ? "t" : "f") }
}
extension UUID: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(uuidString.lowercased()) }
}
extension Data: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .bytea(self) }
}
extension Date: PostgresEncodable {
    public var postgresParameter: PostgresParameter { .text(PostgresTimestamp.format(self)) }
}
extension Optional: PostgresEncodable where Wrapped: PostgresEncodable {
    public var postgresParameter: PostgresParameter {
        switch self {
        case .none: return .null
        case .some(let value): return value.postgresParameter
        }
    }
}
extension Array: PostgresEncodable where Element: PostgresEncodable {
    /// A one-dimensional array literal (`{"a","b"}`); pass it as `$1::text[]`, `$1::bigint[]`, ...
    public var postgresParameter: PostgresParameter {
        var out = "{"
        for (i, element) in enumerated() {
            if i > 0 { out += "," }
            switch element.postgresParameter {
            case .null: out += "NULL"
            case .text(let text): out += PostgresArrayLiteral.quote(text)
            case .bytea(let data): out += PostgresArrayLiteral.quote("\\x" + data.map { String(format: "%02x", $0) }.joined())
            }
        }
        return .text(out + "}")
    }
}

/// A JSON document passed as a parameter (cast it with `$1::jsonb` where the type is not inferred).
public struct PostgresJSON: PostgresEncodable, Equatable {
    /// The JSON text.
    public let text: String
    /// Wraps JSON text that is already serialized.
    public init(text: String) { self.text = text }
    /// Wraps raw UTF-8 JSON bytes.
    public init(data: Data) { self.text = String(decoding: data, as: UTF8.self) }
    /// Encodes a value with sorted keys.
    public init<T: Encodable>(encoding value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .iso8601
        self.text = String(decoding: try encoder.encode(value), as: UTF8.self)
    }
    /// Serializes a JSON object built from plain values (`[String: Any]`), with sorted keys.
    public init(object: Any) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        self.text = String(decoding: data, as: UTF8.self)
    }
    public var postgresParameter: PostgresParameter { .text(text) }
}

enum PostgresArrayLiteral {
    static func quote(_ text: String) -> String {
        var out = "\""
        for ch in text.unicodeScalars {
            if ch == "\"" || ch == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(ch)
        }
        return out + "\""
    }

    /// Parses a one-dimensional array in text output format into its elements (nil = NULL).
    static func parse(_ text: String) throws -> [String?] {
        let scalars = Array(text.utf8)
        guard scalars.first == UInt8(ascii: "{"), scalars.last == UInt8(ascii: "}") else {
            throw ArrayParseError()
        }
        if scalars.count == 2 { return [] }
        var result: [String?] = []
        var i = 1
        let end = scalars.count - 1
        while i < end {
            if scalars[i] == UInt8(ascii: "\"") {
                var bytes: [UInt8] = []
                i += 1
                while i < end, scalars[i] != UInt8(ascii: "\"") {
                    if scalars[i] == UInt8(ascii: "\\") { i += 1 }
                    guard i < end else { throw ArrayParseError() }
                    bytes.append(scalars[i])
                    i += 1
                }
                i += 1  // closing quote
                result.append(String(decoding: bytes, as: UTF8.self))
            } else {
                let start = i
                while i < end, scalars[i] != UInt8(ascii: ",") { i += 1 }
                let element = String(decoding: scalars[start..<i], as: UTF8.self)
                result.append(element == "NULL" ? nil : element)
            }
            if i < end {
                guard scalars[i] == UInt8(ascii: ",") else { throw ArrayParseError() }
                i += 1
            }
        }
        return result
    }

    struct ArrayParseError: Error {}
}
