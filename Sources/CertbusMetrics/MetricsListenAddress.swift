import Foundation

/// Where a metrics endpoint listens, parsed from `--metrics-listen`.
///
/// Accepted forms: `PORT` and `:PORT` (loopback, 127.0.0.1), `HOST:PORT` (an IPv4 address or a
/// host name; `0.0.0.0` for every interface) and `[IPV6]:PORT`. The port is 1 to 65535.
public struct MetricsListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address to bind (without brackets for IPv6).
    public var host: String
    /// The TCP port.
    public var port: Int

    /// The loopback host used when none is given.
    public static let defaultHost = "127.0.0.1"

    /// Makes an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Why a `--metrics-listen` value was refused.
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        /// The value as given.
        public var value: String
        /// What is wrong with it.
        public var reason: String
        /// `--metrics-listen 'x': <reason>`.
        public var description: String { "--metrics-listen '\(value)': \(reason)" }
    }

    /// Parses `text`; throws a `ParseError` naming the problem.
    public static func parse(_ text: String) throws(ParseError) -> MetricsListenAddress {
        func refuse(_ reason: String) -> ParseError { ParseError(value: text, reason: reason) }
        let usage = "expected PORT, :PORT, HOST:PORT or [IPV6]:PORT (e.g. 9464, 127.0.0.1:9464, 0.0.0.0:9464)"
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw refuse("empty; " + usage) }
        var host = defaultHost
        var portText = trimmed
        if trimmed.hasPrefix("[") {
            guard let close = trimmed.firstIndex(of: "]") else { throw refuse("unclosed '[' in an IPv6 address; " + usage) }
            host = String(trimmed[trimmed.index(after: trimmed.startIndex)..<close])
            let rest = trimmed[trimmed.index(after: close)...]
            guard rest.hasPrefix(":") else { throw refuse("a port must follow the bracketed address; " + usage) }
            portText = String(rest.dropFirst())
            guard !host.isEmpty, host.contains(":") else { throw refuse("'[\(host)]' is not an IPv6 address; " + usage) }
        } else if let colon = trimmed.lastIndex(of: ":") {
            let before = trimmed[..<colon]
            if before.contains(":") { throw refuse("an IPv6 address needs brackets, e.g. [::1]:9464") }
            if !before.isEmpty { host = String(before) }
            portText = String(trimmed[trimmed.index(after: colon)...])
        }
        guard !portText.isEmpty else { throw refuse("the port is missing; " + usage) }
        guard portText.allSatisfy(\.isASCIIDigit), let port = Int(portText) else {
            throw refuse("'\(portText)' is not a port number; " + usage)
        }
        guard (1...65535).contains(port) else { throw refuse("port \(port) is out of range (1 to 65535)") }
        guard !host.contains(where: { $0 == " " || $0 == "/" }) else { throw refuse("'\(host)' is not a host name or address") }
        return MetricsListenAddress(host: host, port: port)
    }

    /// `host:port`, with IPv6 hosts bracketed.
    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// True for 127.0.0.0/8, `::1` and `localhost`: only this machine can connect.
    public var isLoopback: Bool { host == "localhost" || host == "::1" || host.hasPrefix("127.") }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}
