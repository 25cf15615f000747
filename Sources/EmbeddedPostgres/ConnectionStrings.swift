import Foundation

/// Renders libpq connection strings for a unix-socket server.
enum ConnectionStrings {
    /// The keyword/value form: `host=<dir> port=<n> user=<u> dbname=<d>`, values quoted when needed.
    static func keywordValue(socketDirectory: String, port: Int, user: String, database: String) -> String {
        [("host", socketDirectory), ("port", String(port)), ("user", user), ("dbname", database)]
            .map { "\($0.0)=\(quotedValue($0.1))" }
            .joined(separator: " ")
    }

    /// The URL form: `postgresql://<user>@/<database>?host=<percent-encoded dir>&port=<n>`.
    static func url(socketDirectory: String, port: Int, user: String, database: String) -> String {
        "postgresql://\(percentEncoded(user))@/\(percentEncoded(database))?host=\(percentEncoded(socketDirectory))&port=\(port)"
    }

    /// A keyword value, single-quoted (with `\` and `'` escaped) if empty or containing spaces, quotes or backslashes.
    static func quotedValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "'" || $0 == "\\" || $0 == "\t" })
        guard needsQuotes else { return value }
        return "'" + value.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'"
    }

    /// Percent-encodes everything except RFC 3986 unreserved characters.
    static func percentEncoded(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                UInt8(ascii: "~"):
                result.append(Character(Unicode.Scalar(byte)))
            default:
                result += String(format: "%%%02X", byte)
            }
        }
        return result
    }
}
