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
        // Built as UTF-8 bytes: appending scalar by scalar to a String cost more than the rest of
        // a batch statement's client side when the elements are long (certificate PEMs).
        var out: [UInt8] = [UInt8(ascii: "{")]
        for (i, element) in enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            switch element.postgresParameter {
            case .null: out.append(contentsOf: "NULL".utf8)
            case .text(let text): PostgresArrayLiteral.appendQuoted(text, to: &out)
            case .bytea(let data): PostgresArrayLiteral.appendQuoted("\\x" + data.map { String(format: "%02x", $0) }.joined(), to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        return .text(String(decoding: out, as: UTF8.self))
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
    /// `text` as a double-quoted array element (quotes and backslashes escaped).
    static func quote(_ text: String) -> String {
        var out: [UInt8] = []
        appendQuoted(text, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `text` as a double-quoted array element to UTF-8 bytes. Multi-byte characters never
    /// contain the bytes of '"' or '\\', so escaping byte by byte is escaping character by character.
    static func appendQuoted(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        var text = text
        text.withUTF8 { bytes in
            out.reserveCapacity(out.count + bytes.count + 2)
            var start = 0
            for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") {
                out.append(contentsOf: bytes[start..<i])
                out.append(UInt8(ascii: "\\"))
                start = i
            }
            out.append(contentsOf: bytes[start...])
        }
        out.append(UInt8(ascii: "\""))
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
