import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Syntax checks for host names, IP addresses and ports given by operators
/// (endpoint hosts, SNI names, discovery targets). Pure functions, no DNS.
public enum NetworkHost {
    /// True when `text` is an IPv4 or IPv6 address literal (no brackets).
    public static func isIPAddress(_ text: String) -> Bool {
        isIPv4(text) || isIPv6(text)
    }

    /// True for a dotted-quad IPv4 literal.
    public static func isIPv4(_ text: String) -> Bool {
        var address = in_addr()
        return inet_pton(AF_INET, text, &address) == 1
    }

    /// True for an IPv6 literal (without brackets).
    public static func isIPv6(_ text: String) -> Bool {
        var address = in6_addr()
        return inet_pton(AF_INET6, text, &address) == 1
    }

    /// Why `name` is not a usable DNS host name, or nil when it is: labels of 1–63 letters,
    /// digits and hyphens (not at either end), at most 253 characters, not all-numeric at the end.
    /// With `allowWildcard`, a `*` may be the whole left-most label (server names on certificates).
    public static func dnsNameProblem(_ name: String, allowWildcard: Bool = false) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > 253 { return "is longer than 253 characters" }
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        let labels = trimmed.split(separator: ".", omittingEmptySubsequences: false)
        for (index, label) in labels.enumerated() {
            if label.isEmpty { return "has an empty label" }
            if label == "*" && index == 0 && allowWildcard && labels.count > 1 { continue }
            if label.utf8.count > 63 { return "has a label longer than 63 characters" }
            guard label.utf8.allSatisfy({ isLetterOrDigit($0) || $0 == UInt8(ascii: "-") }) else {
                return "may only contain letters, digits, hyphens and dots"
            }
            if label.hasPrefix("-") || label.hasSuffix("-") { return "has a label that starts or ends with a hyphen" }
        }
        if let last = labels.last, last.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) {
            return "looks like a malformed IP address"
        }
        return nil
    }

    /// Why `host` is neither a DNS host name nor an IP address, or nil when it is one of them.
    public static func hostProblem(_ host: String) -> String? {
        if isIPAddress(host) { return nil }
        if let problem = dnsNameProblem(host) { return "host \"\(host)\" \(problem)" }
        return nil
    }

    /// Parses a TCP port (1–65535) or returns nil.
    public static func port(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 5, text.allSatisfy(\.isASCII), let value = Int(text), (1...65535).contains(value)
        else { return nil }
        return value
    }

    private static func isLetterOrDigit(_ byte: UInt8) -> Bool {
        (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
    }
}

/// A host and TCP port, e.g. `www.example.com:443`, `127.0.0.1:8443`, `[::1]:443`.
public struct HostPort: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Host name or IP address (IPv6 without brackets).
    public var host: String
    /// TCP port, 1–65535.
    public var port: Int

    /// A checked host and port; throws `HostPortError` naming the problem.
    public init(host: String, port: Int) throws(HostPortError) {
        if let problem = NetworkHost.hostProblem(host) { throw HostPortError(input: "\(host):\(port)", reason: problem) }
        guard (1...65535).contains(port) else {
            throw HostPortError(input: "\(host):\(port)", reason: "port \(port) is not between 1 and 65535")
        }
        self.host = host
        self.port = port
    }

    /// Parses `host:port` or `[ipv6]:port`.
    public init(parsing text: String) throws(HostPortError) {
        let input = text.trimmingCharacters(in: .whitespaces)
        let hostPart: Substring
        let portPart: Substring
        if input.hasPrefix("[") {
            guard let close = input.firstIndex(of: "]") else {
                throw HostPortError(input: text, reason: "missing ']' after an IPv6 address")
            }
            hostPart = input[input.index(after: input.startIndex)..<close]
            let rest = input[input.index(after: close)...]
            guard rest.hasPrefix(":") else { throw HostPortError(input: text, reason: "expected :port after ']'") }
            portPart = rest.dropFirst()
            guard NetworkHost.isIPv6(String(hostPart)) else {
                throw HostPortError(input: text, reason: "\"\(hostPart)\" is not an IPv6 address")
            }
        } else {
            guard let colon = input.lastIndex(of: ":") else {
                throw HostPortError(input: text, reason: "expected host:port (e.g. www.example.com:443)")
            }
            hostPart = input[..<colon]
            portPart = input[input.index(after: colon)...]
            if hostPart.contains(":") {
                throw HostPortError(input: text, reason: "write IPv6 addresses in brackets: [::1]:443")
            }
        }
        guard let port = NetworkHost.port(portPart) else {
            throw HostPortError(input: text, reason: "port \"\(portPart)\" is not a number between 1 and 65535")
        }
        let host = String(hostPart)
        if let problem = NetworkHost.hostProblem(host) { throw HostPortError(input: text, reason: problem) }
        self.host = host
        self.port = port
    }

    /// `host:port`, with brackets around IPv6 addresses.
    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// A malformed `host:port`.
public struct HostPortError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What was given.
    public var input: String
    /// What is wrong with it.
    public var reason: String
    public var description: String { "invalid target \"\(input)\": \(reason)" }
}
