/// How the end of a message body is found (RFC 9112 §6.3).
enum BodyFraming: Equatable {
    /// No body.
    case empty
    /// Exactly this many bytes (`Content-Length`).
    case length(Int)
    /// `Transfer-Encoding: chunked`.
    case chunked
    /// Everything until the server closes the connection (responses only).
    case untilClose

    /// The framing of a response to `method` with `status` and `headers`.
    static func forResponse(status: Int, method: HTTPMethod, headers: HTTPHeaders) throws(MessageError)
        -> BodyFraming
    {
        if method == .head || (100..<200).contains(status) || status == 204 || status == 304 { return .empty }
        let codings = transferCodings(headers)
        if !codings.isEmpty {
            // A final chunked coding frames the body; anything else runs until close.
            return codings.last == "chunked" ? .chunked : .untilClose
        }
        if let length = try contentLength(headers) { return .length(length) }
        return .untilClose
    }

    /// The framing of a request with `headers`. Requests carrying both `Transfer-Encoding` and
    /// `Content-Length`, or a transfer coding other than plain `chunked`, are rejected.
    static func forRequest(headers: HTTPHeaders) throws(MessageError) -> BodyFraming {
        let codings = transferCodings(headers)
        if !codings.isEmpty {
            guard !headers.contains("Content-Length") else {
                throw .malformed("both Transfer-Encoding and Content-Length")
            }
            guard codings == ["chunked"] else {
                throw .unsupported("transfer coding \(codings.joined(separator: ", "))")
            }
            return .chunked
        }
        if let length = try contentLength(headers), length > 0 { return .length(length) }
        return .empty
    }

    /// The lower-cased transfer codings listed in all `Transfer-Encoding` fields, in order.
    private static func transferCodings(_ headers: HTTPHeaders) -> [String] {
        headers.values(for: "Transfer-Encoding")
            .flatMap { $0.split(separator: ",") }
            .map { $0.trimmingSpaceAndTab().lowercased() }
            .filter { !$0.isEmpty }
    }

    /// The `Content-Length`, or nil when absent. Several fields (or a list) must all agree.
    static func contentLength(_ headers: HTTPHeaders) throws(MessageError) -> Int? {
        let values = headers.values(for: "Content-Length")
            .flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingSpaceAndTab() }
        guard let first = values.first else { return nil }
        guard values.allSatisfy({ $0 == first }) else { throw .malformed("conflicting Content-Length values") }
        guard !first.isEmpty, first.count <= 18, first.utf8.allSatisfy({ (48...57).contains($0) }),
            let length = Int(first)
        else { throw .malformed("invalid Content-Length '\(first)'") }
        return length
    }
}

extension StringProtocol {
    /// The string without leading and trailing spaces and horizontal tabs (HTTP's OWS).
    func trimmingSpaceAndTab() -> String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice = slice.dropFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice = slice.dropLast() }
        return String(slice)
    }
}
