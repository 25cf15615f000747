import Foundation

/// A Swift type that can be built from a column value in PostgreSQL's text format.
public protocol PostgresDecodable {
    /// Builds the value from the column's text (nil for SQL NULL), or throws an error naming `column`.
    static func decode(postgresText: String?, column: String) throws -> Self
}

extension PostgresDecodable {
    static func mismatch(_ text: String, _ column: String) -> PostgresError {
        let shown = text.count > 60 ? String(text.prefix(60)) + "…" : text
        return PostgresError(kind: .decoding, message: "column '\(column)' value '\(shown)' is not a valid \(Self.self)")
    }

    static func required(_ text: String?, _ column: String) throws -> String {
        guard let text else {
            throw PostgresError(kind: .decoding, message: "column '\(column)' is NULL but \(Self.self) was expected")
        }
        return text
    }
}

extension PostgresDecodable where Self: FixedWidthInteger {
    /// Shared by the integer types: decimal text that fits, else an error naming the column.
    static func decodeInteger(_ postgresText: String?, _ column: String) throws -> Self {
        let text = try required(postgresText, column)
        guard let v = Self(text) else { throw mismatch(text, column) }
        return v
    }
}

extension Optional: PostgresDecodable where Wrapped: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> Self {
        guard let postgresText else { return nil }
        return try Wrapped.decode(postgresText: postgresText, column: column)
    }
}

extension String: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> String {
        try required(postgresText, column)
    }
}

extension Int: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> Int {
        try decodeInteger(postgresText, column)
    }
}

extension Int64: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> Int64 {
        try decodeInteger(postgresText, column)
    }
}

extension Int32: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> Int32 {
        try decodeInteger(postgresText, column)
    }
}

extension Int16: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> Int16 {
        try decodeInteger(postgresText, column)
    }
}

extension Double: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> Double {
        let text = try required(postgresText, column)
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let v = Double(text) else { throw mismatch(text, column) }
            return v
        }
    }
}

extension Bool: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> Bool {
        let text = try required(postgresText, column)
        switch text {
        case "t", "true": return true
        case "f", "false": return false
        default: throw mismatch(text, column)
        }
    }
}

extension UUID: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> UUID {
        let text = try required(postgresText, column)
        guard let v = UUID(uuidString: text) else { throw mismatch(text, column) }
        return v
    }
}

extension Date: PostgresDecodable {
    public static func decode(postgresText: String?, column: String) throws -> Date {
        let text = try required(postgresText, column)
        guard let v = PostgresTimestamp.parse(text) else { throw mismatch(text, column) }
        return v
    }
}

extension Data: PostgresDecodable {
    /// Decodes `bytea` in hex output format (`\x0a1b...`).
    public static func decode(postgresText: String?, column: String) throws -> Data {
        let text = try required(postgresText, column)
        let bytes = Array(text.utf8)
        guard bytes.count >= 2, bytes[0] == UInt8(ascii: "\\"), bytes[1] == UInt8(ascii: "x"), bytes.count % 2 == 0
        else { throw mismatch(text, column) }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var out = Data(capacity: (bytes.count - 2) / 2)
        var i = 2
        while i < bytes.count {
            guard let hi = nibble(bytes[i]), let lo = nibble(bytes[i + 1]) else { throw mismatch(text, column) }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

extension Array: PostgresDecodable where Element: PostgresDecodable {
    /// Decodes a one-dimensional array (`{a,b,"c d"}`).
    public static func decode(postgresText: String?, column: String) throws -> [Element] {
        let text = try required(postgresText, column)
        let elements: [String?]
        do { elements = try PostgresArrayLiteral.parse(text) } catch { throw mismatch(text, column) }
        return try elements.map { try Element.decode(postgresText: $0, column: column) }
    }
}
