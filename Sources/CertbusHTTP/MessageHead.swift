/// Parsing and validation of HTTP/1.x start lines and header fields (RFC 9112).
enum MessageHead {
    /// A parsed status line.
    struct StatusLine: Equatable {
        /// `HTTP/1.1` or `HTTP/1.0`.
        var version: String
        /// The three-digit status code.
        var status: Int
        /// The reason phrase (may be empty).
        var reason: String
    }

    /// A parsed request line.
    struct RequestLine: Equatable {
        var method: HTTPMethod
        var target: String
        var version: String
    }

    /// Parses `HTTP/1.x NNN reason`.
    static func parseStatusLine(_ line: String) throws(MessageError) -> StatusLine {
        let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, isVersion(parts[0]) else {
            throw .malformed("invalid status line '\(line.prefix(80))'")
        }
        let code = parts[1]
        guard code.count == 3, code.utf8.allSatisfy({ (48...57).contains($0) }), let status = Int(code),
            status >= 100
        else { throw .malformed("invalid status code in '\(line.prefix(80))'") }
        return StatusLine(version: String(parts[0]), status: status, reason: parts.count == 3 ? String(parts[2]) : "")
    }

    /// Parses `METHOD target HTTP/1.x`. Only origin-form targets (`/...`) and `*` for OPTIONS
    /// are accepted.
    static func parseRequestLine(_ line: String) throws(MessageError) -> RequestLine {
        let parts = line.split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, isToken(parts[0]), isVersion(parts[2]) else {
            throw .malformed("invalid request line")
        }
        let target = String(parts[1])
        let method = HTTPMethod(rawValue: String(parts[0]))
        guard target.hasPrefix("/") || (target == "*" && method == .options),
            target.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else { throw .malformed("invalid request target") }
        return RequestLine(method: method, target: target, version: String(parts[2]))
    }

    /// Parses header field lines `Name: value`. Whitespace before the colon and obsolete line
    /// folding are rejected (they enable request smuggling).
    static func parseFields(_ lines: some Sequence<String>) throws(MessageError) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for line in lines {
            guard let first = line.first, first != " ", first != "\t" else {
                throw .malformed("obsolete line folding in header fields")
            }
            guard let colon = line.firstIndex(of: ":") else { throw .malformed("header line without colon") }
            let name = line[..<colon]
            guard isToken(name) else { throw .malformed("invalid header name '\(name.prefix(40))'") }
            let value = line[line.index(after: colon)...].trimmingSpaceAndTab()
            headers.add(String(name), value)
        }
        return headers
    }

    /// Whether `text` is a non-empty RFC 9110 token (method or header name).
    static func isToken(_ text: some StringProtocol) -> Bool {
        !text.isEmpty
            && text.utf8.allSatisfy { byte in
                switch byte {
                case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                    UInt8(ascii: "0")...UInt8(ascii: "9"):
                    true
                default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
                }
            }
    }

    /// Whether `value` can be sent as a header value: no CR, LF, NUL or other control
    /// characters except horizontal tab.
    static func isValidFieldValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    /// The first reason `headers` cannot be sent, or nil when all fields are valid.
    static func invalidFieldReason(_ headers: HTTPHeaders) -> String? {
        for field in headers {
            if !isToken(field.name) { return "invalid header name '\(field.name.prefix(40))'" }
            if !isValidFieldValue(field.value) { return "invalid characters in the value of header \(field.name)" }
        }
        return nil
    }

    private static func isVersion(_ text: some StringProtocol) -> Bool {
        text == "HTTP/1.1" || text == "HTTP/1.0"
    }
}
