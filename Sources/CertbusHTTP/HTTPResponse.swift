import Foundation

/// An HTTP response: what `HTTPClient` returns and what an `HTTPServer` handler produces.
public struct HTTPResponse: Sendable, Equatable {
    /// The status code, e.g. 200.
    public var status: Int
    /// The reason phrase (informational only; defaults to the standard phrase for `status`).
    public var reason: String
    /// The header fields. The server sets `Content-Length`, `Connection` and `Date` itself.
    public var headers: HTTPHeaders
    /// The complete body (already de-chunked on the client side).
    public var body: Data

    /// Makes a response; `reason` defaults to the standard phrase for `status`.
    public init(status: Int, reason: String? = nil, headers: HTTPHeaders = HTTPHeaders(), body: Data = Data()) {
        self.status = status
        self.reason = reason ?? ReasonPhrase.standard(for: status)
        self.headers = headers
        self.body = body
    }

    /// A `text/plain; charset=utf-8` response.
    public static func text(_ text: String, status: Int = 200) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: ["Content-Type": "text/plain; charset=utf-8"], body: Data(text.utf8))
    }

    /// The body decoded as UTF-8, or nil when it is not valid UTF-8.
    public var bodyText: String? { String(data: body, encoding: .utf8) }

    /// Whether the status is in the 2xx range.
    public var isSuccess: Bool { (200..<300).contains(status) }
}
