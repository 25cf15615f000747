import Foundation

/// A blast-radius question: the certificates matching **every** criterion given. Used by
/// `certbus cert list --sharing-key-of ... --issued-by ...` and by `certbus incident renew`.
/// The values are as the operator typed them; a database resolves names to ids.
public struct CertificateSelector: Sendable, Equatable, Hashable {
    /// Certificates whose public key is that of this certificate (id or SHA-256 fingerprint).
    public var sharingKeyOf: String?
    /// Certificates issued by this CA (name or id) or by any CA below it.
    public var issuedBy: String?
    /// Certificates with a name matching this pattern.
    public var sanPattern: CertificateNamePattern?
    /// Certificates of this RA profile (name or id).
    public var profile: String?
    /// Certificates deployed on this endpoint (name or id).
    public var endpoint: String?

    /// A selector with the given criteria (nil: not a criterion).
    public init(sharingKeyOf: String? = nil, issuedBy: String? = nil, sanPattern: CertificateNamePattern? = nil,
                profile: String? = nil, endpoint: String? = nil) {
        self.sharingKeyOf = sharingKeyOf
        self.issuedBy = issuedBy
        self.sanPattern = sanPattern
        self.profile = profile
        self.endpoint = endpoint
    }

    /// The criteria's names, as options and `--selector` keys, in canonical order.
    public static let keys = ["sharing-key-of", "issued-by", "san-matches", "profile", "endpoint"]

    /// True when no criterion is given (it would select every certificate).
    public var isEmpty: Bool {
        sharingKeyOf == nil && issuedBy == nil && sanPattern == nil && profile == nil && endpoint == nil
    }

    /// The criteria given, as (key, value) in canonical order.
    public var criteria: [(key: String, value: String)] {
        var out: [(String, String)] = []
        if let sharingKeyOf { out.append(("sharing-key-of", sharingKeyOf)) }
        if let issuedBy { out.append(("issued-by", issuedBy)) }
        if let sanPattern { out.append(("san-matches", sanPattern.text)) }
        if let profile { out.append(("profile", profile)) }
        if let endpoint { out.append(("endpoint", endpoint)) }
        return out
    }

    /// "issued-by=acme-corp-root san-matches=*.example.com".
    public var description: String { criteria.map { "\($0.key)=\($0.value)" }.joined(separator: " ") }

    /// Sets the criterion `key` (one of ``keys``) to `value`; throws ``CertificateSelectorError``
    /// for an unknown key, an empty value, a criterion given twice, or a bad name pattern.
    public mutating func set(_ key: String, _ value: String) throws {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw CertificateSelectorError("\(key) needs a value") }
        func assign(_ slot: inout String?) throws {
            guard slot == nil else { throw CertificateSelectorError("\(key) is given twice") }
            slot = trimmed
        }
        switch key {
        case "sharing-key-of": try assign(&sharingKeyOf)
        case "issued-by": try assign(&issuedBy)
        case "profile": try assign(&profile)
        case "endpoint": try assign(&endpoint)
        case "san-matches", "san":
            guard sanPattern == nil else { throw CertificateSelectorError("san-matches is given twice") }
            do {
                sanPattern = try CertificateNamePattern(trimmed)
            } catch let error as CertificateNamePatternError {
                throw CertificateSelectorError(error.description)
            }
        default:
            throw CertificateSelectorError("unknown selector key \"\(key)\" (use \(Self.keys.joined(separator: ", ")))")
        }
    }

    /// Adds the criteria of a `--selector` text: `key=value` pairs separated by commas or spaces,
    /// e.g. `issued-by=acme-corp,san-matches=*.example.com`.
    public mutating func add(selectorText text: String) throws {
        let parts = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        guard !parts.isEmpty else { throw CertificateSelectorError("--selector is empty (give key=value, e.g. issued-by=acme-corp)") }
        for part in parts {
            guard let equals = part.firstIndex(of: "=") else {
                throw CertificateSelectorError("\"\(part)\" is not key=value (keys: \(Self.keys.joined(separator: ", ")))")
            }
            try set(String(part[..<equals]).lowercased(), String(part[part.index(after: equals)...]))
        }
    }
}

/// A selector that cannot be used, with the reason.
public struct CertificateSelectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A pattern over certificate names (subject alternative names and common name): `*` stands for
/// any run of characters (dots included), everything else is literal; case and a trailing dot
/// are ignored. `*.example.com` matches `www.example.com`, `a.b.example.com` and the wildcard name
/// `*.example.com`, not `example.com`. A name without `*` matches exactly that name (and not the
/// wildcard certificates that would cover it). The database converts it with
/// `certbus.certificate_name_like`.
public struct CertificateNamePattern: Sendable, Equatable, Hashable, CustomStringConvertible {
    /// The pattern, lower case, without a trailing dot.
    public let text: String

    /// Checks and normalises a pattern; throws ``CertificateNamePatternError``.
    public init(_ pattern: String) throws {
        var normalized = pattern.trimmingCharacters(in: .whitespaces).lowercased()
        while normalized.hasSuffix(".") { normalized.removeLast() }
        guard !normalized.isEmpty else { throw CertificateNamePatternError(pattern: pattern, reason: "it is empty") }
        guard normalized.count <= 253 else { throw CertificateNamePatternError(pattern: pattern, reason: "it is longer than 253 characters") }
        if let bad = normalized.first(where: { !Self.allowed.contains($0) }) {
            throw CertificateNamePatternError(
                pattern: pattern, reason: "\"\(bad)\" is not allowed (letters, digits, . - _ : and * as the wildcard)")
        }
        guard normalized.contains(where: { $0 != "*" && $0 != "." }) else {
            throw CertificateNamePatternError(pattern: pattern, reason: "it matches every name; give at least one letter or digit")
        }
        text = normalized
    }

    /// True when `name` (a DNS name, wildcard name or IP address) matches: the reference the SQL
    /// function `certbus.certificate_names_match` must agree with.
    public func matches(_ name: String) -> Bool {
        var candidate = name.lowercased()
        while candidate.hasSuffix(".") { candidate.removeLast() }
        return Self.glob(Array(text), Array(candidate))
    }

    public var description: String { text }

    private static let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789.-_:*")

    private static func glob(_ pattern: [Character], _ name: [Character]) -> Bool {
        var p = 0, n = 0, star = -1, mark = 0
        while n < name.count {
            if p < pattern.count, pattern[p] != "*", pattern[p] == name[n] {
                p += 1
                n += 1
            } else if p < pattern.count, pattern[p] == "*" {
                star = p
                mark = n
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                n = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}

/// A name pattern that cannot be used.
public struct CertificateNamePatternError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The pattern as given.
    public var pattern: String
    /// Why it is refused.
    public var reason: String
    public var description: String { "invalid name pattern \"\(pattern)\": \(reason)" }
}
