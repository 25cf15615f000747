import Foundation

/// Serialization of request and response heads (RFC 9112).
enum MessageWriter {
    /// Header fields the writer always sets itself; caller-supplied ones are dropped.
    static let framingFields = ["Content-Length", "Transfer-Encoding", "Connection"]

    /// The head of a client request: request line, `Host`, caller headers, `User-Agent`,
    /// `Content-Length` (for a body or a method that normally carries one), `Connection: close`.
    /// Throws `.invalidRequest` for a method or header that cannot be sent.
    static func requestHead(
        method: HTTPMethod, target: RequestTarget, headers: HTTPHeaders, bodyCount: Int, userAgent: String
    ) throws(RequestError) -> Data {
        guard MessageHead.isToken(method.rawValue) else { throw RequestError(.invalidRequest("invalid method '\(method)'")) }
        var fields = headers
        for name in framingFields { fields.remove(name) }
        if let reason = MessageHead.invalidFieldReason(fields) { throw RequestError(.invalidRequest(reason)) }
        var all = HTTPHeaders()
        all.add("Host", fields["Host"] ?? target.hostHeader)
        fields.remove("Host")
        for field in fields { all.add(field.name, field.value) }
        if !all.contains("User-Agent") && !userAgent.isEmpty { all.add("User-Agent", userAgent) }
        if bodyCount > 0 || [HTTPMethod.post, .put, .patch].contains(method) {
            all.add("Content-Length", String(bodyCount))
        }
        all.add("Connection", "close")
        return head(startLine: "\(method.rawValue) \(target.requestTarget) HTTP/1.1", fields: all)
    }

    /// The head of a server response plus whether a body follows. Sets `Content-Length`
    /// (except for 1xx/204/304), `Connection: close` and `Date` (unless given). Returns nil when
    /// the handler's response has an invalid status or header field.
    static func responseHead(_ response: HTTPResponse, method: HTTPMethod, now: Date = Date()) -> (Data, sendBody: Bool)? {
        guard (100...999).contains(response.status),
            response.reason.utf8.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) })
        else { return nil }
        var fields = response.headers
        for name in framingFields { fields.remove(name) }
        guard MessageHead.invalidFieldReason(fields) == nil else { return nil }
        let bodyless = (100..<200).contains(response.status) || response.status == 204 || response.status == 304
        if !bodyless { fields.add("Content-Length", String(response.body.count)) }
        if !fields.contains("Date") { fields.add("Date", HTTPDate.format(now)) }
        fields.add("Connection", "close")
        let head = head(startLine: "HTTP/1.1 \(response.status) \(response.reason)", fields: fields)
        return (head, !bodyless && method != .head)
    }

    private static func head(startLine: String, fields: HTTPHeaders) -> Data {
        var text = startLine + "\r\n"
        for field in fields { text += "\(field.name): \(field.value)\r\n" }
        text += "\r\n"
        return Data(text.utf8)
    }
}
