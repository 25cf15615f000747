import Foundation

/// One entry of an RA profile's allowed domains: `example.com` allows exactly that name,
/// `*.example.com` allows any name below it (at any depth, including wildcard names such as
/// `*.www.example.com`) but not `example.com` itself, and an IP address literal allows exactly
/// that address. Matching ignores case and a trailing dot.
public struct DomainPattern: Sendable, Hashable, CustomStringConvertible {
    /// What the pattern matches.
    public enum Scope: Sendable, Hashable {
        /// Exactly this DNS name (lowercase, no trailing dot).
        case exactly(String)
        /// Any name strictly below this domain.
        case subdomains(of: String)
        /// Exactly this IP address (its network-order bytes).
        case ipAddress([UInt8])
    }

    /// What the pattern matches.
    public let scope: Scope
    /// The pattern as written, normalised (lowercase, no trailing dot).
    public let text: String

    /// Parses a pattern, or throws ``DomainPatternError`` saying what is wrong with it.
    public init(_ pattern: String) throws {
        let normalized = DomainName.normalize(pattern)
        if let address = IPLiteral.bytes(of: normalized) {
            scope = .ipAddress(address)
            text = normalized
            return
        }
        if normalized.hasPrefix("*.") {
            let base = String(normalized.dropFirst(2))
            if let problem = DomainName.problem(with: base) {
                throw DomainPatternError(pattern: pattern, reason: problem)
            }
            scope = .subdomains(of: base)
        } else {
            if normalized.contains("*") {
                throw DomainPatternError(pattern: pattern, reason: "a wildcard is only allowed as the whole first label (\"*.example.com\")")
            }
            if let problem = DomainName.problem(with: normalized) {
                throw DomainPatternError(pattern: pattern, reason: problem)
            }
            scope = .exactly(normalized)
        }
        text = normalized
    }

    /// Whether the requested name (a DNS name, possibly a `*.` wildcard name, or an IP address)
    /// is allowed by this pattern.
    public func matches(_ name: String) -> Bool {
        let candidate = DomainName.normalize(name)
        switch scope {
        case .ipAddress(let bytes):
            return IPLiteral.bytes(of: candidate) == bytes
        case .exactly(let domain):
            return candidate == domain
        case .subdomains(let domain):
            guard IPLiteral.bytes(of: candidate) == nil else { return false }
            // "*.a.example.com" and "x.a.example.com" are both below "example.com".
            return candidate.hasSuffix("." + domain) && candidate.count > domain.count + 1
        }
    }

    /// The normalised pattern text.
    public var description: String { text }
}

/// A malformed domain pattern.
public struct DomainPatternError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The pattern as given.
    public var pattern: String
    /// Why it is refused.
    public var reason: String

    /// "invalid domain pattern "x": reason".
    public var description: String { "invalid domain pattern \"\(pattern)\": \(reason)" }
}

/// Checks requested names against a profile's allowed domain patterns.
public enum DomainPolicy {
    /// The names (in request order, without duplicates) that no pattern allows. An empty pattern
    /// list allows every name.
    public static func namesOutside(_ patterns: [DomainPattern], names: [String]) -> [String] {
        guard !patterns.isEmpty else { return [] }
        var seen = Set<String>()
        return names.filter { name in
            !patterns.contains { $0.matches(name) } && seen.insert(DomainName.normalize(name)).inserted
        }
    }

    /// Parses pattern texts, throwing on the first malformed one.
    public static func parse(_ texts: [String]) throws -> [DomainPattern] {
        try texts.map { try DomainPattern($0) }
    }
}

/// DNS name syntax (LDH labels).
enum DomainName {
    /// Lowercased, surrounding white space and one trailing dot removed.
    static func normalize(_ name: String) -> String {
        var text = name.trimmingCharacters(in: .whitespaces).lowercased()
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// Why `name` (normalised) is not a valid host name, or nil when it is.
    static func problem(with name: String) -> String? {
        guard !name.isEmpty else { return "the name is empty" }
        guard name.utf8.count <= 253 else { return "the name is longer than 253 characters" }
        for label in name.split(separator: ".", omittingEmptySubsequences: false) {
            guard !label.isEmpty else { return "the name has an empty label" }
            guard label.utf8.count <= 63 else { return "the label \"\(label)\" is longer than 63 characters" }
            guard label.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) else {
                return "the label \"\(label)\" may only contain letters, digits and hyphens"
            }
            guard !label.hasPrefix("-"), !label.hasSuffix("-") else {
                return "the label \"\(label)\" may not start or end with a hyphen"
            }
        }
        return nil
    }
}

/// IP address literals (IPv4 dotted quad, IPv6 text) as bytes, for exact comparison.
enum IPLiteral {
    /// The 4 or 16 network-order bytes of `text`, or nil when it is not an IP literal.
    static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { Array($0) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { Array($0) }
        }
        return nil
    }
}
