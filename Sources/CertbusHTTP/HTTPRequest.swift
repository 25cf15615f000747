import Foundation

/// A request as received by an `HTTPServer` handler.
public struct HTTPRequest: Sendable, Equatable {
    /// The request method.
    public var method: HTTPMethod
    /// The request target exactly as sent, e.g. `/.well-known/acme-challenge/abc?x=1`.
    public var target: String
    /// The header fields in order.
    public var headers: HTTPHeaders
    /// The complete body (empty when there was none).
    public var body: Data
    /// The peer address as `ip:port` (`[ip]:port` for IPv6), for logs.
    public var remoteAddress: String

    /// Makes a request value (used by the server and by tests of handlers).
    public init(
        method: HTTPMethod, target: String, headers: HTTPHeaders = HTTPHeaders(), body: Data = Data(),
        remoteAddress: String = ""
    ) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
        self.remoteAddress = remoteAddress
    }

    /// The target without the query string, still percent-encoded.
    public var path: String {
        if let q = target.firstIndex(of: "?") { return String(target[..<q]) }
        return target
    }

    /// The query string after `?` (still percent-encoded), or nil when there is none.
    public var query: String? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: q)...])
    }
}
