/// Why an `HTTPClient` request failed, with the request it was for.
///
/// `url` is the request URL with any user info and query string removed, so the error can be
/// logged and shown without leaking credentials or tokens.
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The phase of a request a timeout happened in.
    public enum Phase: String, Sendable, Equatable {
        /// Opening the TCP connection (bounded by the connect timeout).
        case connect
        /// The TLS handshake.
        case tlsHandshake = "TLS handshake"
        /// Writing the request.
        case send
        /// Waiting for and reading the response.
        case receive
    }

    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// The URL is not an absolute http(s) URL with a host, or its port is invalid.
        case invalidURL(String)
        /// The request cannot be sent as given (bad method, header name or value).
        case invalidRequest(String)
        /// The host name could not be resolved.
        case dnsFailure(String)
        /// Every address of the host actively refused the connection.
        case connectionRefused
        /// The connection could not be opened for another reason (unreachable, reset, ...).
        case connectionFailed(String)
        /// A deadline passed: the connect timeout during `.connect`, otherwise the request timeout.
        case timeout(Phase)
        /// The TLS trust configuration (CA bundle) could not be loaded.
        case tlsConfiguration(String)
        /// The TLS handshake failed: untrusted certificate, wrong host name, protocol error.
        case tlsHandshake(String)
        /// The connection failed after it was established (TLS or socket error).
        case connectionLost(String)
        /// The peer closed the connection before a complete response arrived.
        case connectionClosed
        /// The response is not valid HTTP/1.x.
        case badResponse(String)
        /// The response head or body is larger than the configured limit (bytes).
        case responseTooLarge(limit: Int)
    }

    /// What went wrong.
    public let kind: Kind
    /// The request method.
    public let method: String
    /// The request URL without user info and query string.
    public let url: String

    /// Makes an error; `url` should already be redacted (see `RequestTarget.redacted`).
    public init(_ kind: Kind, method: String, url: String) {
        self.kind = kind
        self.method = method
        self.url = url
    }

    /// A one-line message such as `GET https://ca.example/dir: connection refused`.
    public var description: String {
        "\(method) \(url): \(kindDescription)"
    }

    /// The message for `kind` alone.
    public var kindDescription: String {
        switch kind {
        case .invalidURL(let why): "invalid URL: \(why)"
        case .invalidRequest(let why): "invalid request: \(why)"
        case .dnsFailure(let why): "cannot resolve host: \(why)"
        case .connectionRefused: "connection refused"
        case .connectionFailed(let why): "cannot connect: \(why)"
        case .timeout(.connect): "timed out while connecting"
        case .timeout(let phase): "request timed out during \(phase.rawValue)"
        case .tlsConfiguration(let why): "TLS configuration error: \(why)"
        case .tlsHandshake(let why): "TLS handshake failed: \(why)"
        case .connectionLost(let why): "connection lost: \(why)"
        case .connectionClosed: "server closed the connection before a complete response"
        case .badResponse(let why): "bad response: \(why)"
        case .responseTooLarge(let limit): "response larger than the limit of \(limit) bytes"
        }
    }
}

/// A request that cannot be sent as given, before any I/O (internal carrier for `HTTPError.Kind`).
struct RequestError: Error, Equatable {
    let kind: HTTPError.Kind
    init(_ kind: HTTPError.Kind) { self.kind = kind }
}
