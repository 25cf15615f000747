import Foundation

/// Where and how to send a request, derived from an absolute http(s) URL.
struct RequestTarget: Equatable, Sendable {
    /// Whether the connection uses TLS.
    var isTLS: Bool
    /// The host name or IP literal (IPv6 without brackets).
    var host: String
    /// The TCP port (default 80 / 443).
    var port: Int
    /// The origin-form request target: percent-encoded path (at least `/`) and query.
    var requestTarget: String
    /// The value for the `Host` header: host (IPv6 bracketed) plus `:port` when not the default.
    var hostHeader: String

    /// Whether `host` is an IP address literal (no SNI; certificate checked against IP SANs).
    var hostIsIPAddress: Bool { IPAddress.isLiteral(host) }

    /// Parses `url`; throws `.invalidURL` with a reason for anything that is not absolute http(s)
    /// with a host and a valid port.
    init(url: URL) throws(RequestError) {
        guard let components = URLComponents(url: url, resolvingAgainstBaseURL: false) else {
            throw RequestError(.invalidURL("cannot parse URL"))
        }
        switch components.scheme?.lowercased() {
        case "http": isTLS = false
        case "https": isTLS = true
        case nil: throw RequestError(.invalidURL("missing scheme (expected http or https)"))
        case let other?: throw RequestError(.invalidURL("unsupported scheme '\(other)' (expected http or https)"))
        }
        var host = components.percentEncodedHost ?? ""
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw RequestError(.invalidURL("missing host")) }
        guard !host.contains("%"), host.allSatisfy({ !$0.isWhitespace && $0 != "/" }) else {
            throw RequestError(.invalidURL("invalid host"))
        }
        self.host = host
        let defaultPort = isTLS ? 443 : 80
        if let port = components.port {
            guard (1...65535).contains(port) else { throw RequestError(.invalidURL("port \(port) out of range")) }
            self.port = port
        } else {
            self.port = defaultPort
        }
        var target = components.percentEncodedPath
        if target.isEmpty { target = "/" }
        if let query = components.percentEncodedQuery { target += "?" + query }
        guard target.hasPrefix("/") else { throw RequestError(.invalidURL("path must be absolute")) }
        requestTarget = target
        let bracketed = host.contains(":") ? "[\(host)]" : host
        hostHeader = port == defaultPort ? bracketed : "\(bracketed):\(port)"
    }

    /// `url` without user info, query and fragment: safe to put in logs and errors.
    static func redacted(_ url: URL) -> String {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false) else {
            return "<unparseable URL>"
        }
        components.user = nil
        components.password = nil
        components.query = nil
        components.fragment = nil
        return components.string ?? "<unparseable URL>"
    }
}

/// IP address literal checks.
enum IPAddress {
    /// Whether `text` is a numeric IPv4 or IPv6 address.
    static func isLiteral(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
