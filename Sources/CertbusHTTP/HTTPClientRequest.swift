import Foundation

/// A request for `HTTPClient` to send.
public struct HTTPClientRequest: Sendable, Equatable {
    /// The request method.
    public var method: HTTPMethod
    /// An absolute `http://` or `https://` URL.
    public var url: URL
    /// Extra header fields. `Host`, `Content-Length`, `Connection` and `User-Agent` are added by
    /// the client; a caller-supplied `Host` or `User-Agent` wins, `Content-Length`,
    /// `Transfer-Encoding` and `Connection` are always the client's own.
    public var headers: HTTPHeaders
    /// The body (sent with `Content-Length`; empty means none).
    public var body: Data

    /// Makes a request.
    public init(method: HTTPMethod = .get, url: URL, headers: HTTPHeaders = HTTPHeaders(), body: Data = Data()) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
    }
}
