import CertbusCore
import Foundation
import Postgres

/// A ``CertificateSelector`` whose names were resolved against the database: the stable ids an
/// incident is keyed by, a readable text, and the SQL predicate on `certbus.certificates c`.
public struct ResolvedSelector: Sendable, Equatable {
    /// The original selector.
    public var selector: CertificateSelector
    /// SHA-256 of the public key (for sharing-key-of).
    public var publicKeySHA256: String?
    /// The CA at the top of the subtree (for issued-by).
    public var issuedBy: NamedReference?
    /// That CA and every CA below it (`certbus.certificate_authority_tree`).
    public var issuingCAs: [UUID] = []
    /// The name pattern.
    public var sanPattern: CertificateNamePattern?
    /// The profile.
    public var profile: NamedReference?
    /// The endpoint.
    public var endpoint: NamedReference?

    /// "sharing-key-of=<id> (key 07fd041b…) issued-by=acme-corp-root".
    public var text: String {
        var parts: [String] = []
        if let key = publicKeySHA256 { parts.append("sharing-key-of=\(selector.sharingKeyOf ?? "") (key \(key.prefix(16))…)") }
        if let issuedBy { parts.append("issued-by=\(issuedBy.name)") }
        if let sanPattern { parts.append("san-matches=\(sanPattern.text)") }
        if let profile { parts.append("profile=\(profile.name)") }
        if let endpoint { parts.append("endpoint=\(endpoint.name)") }
        return parts.joined(separator: " ")
    }

    /// The identity of the selection as stored in `certbus.incidents.selector` (ids, not names, so
    /// renaming a CA does not make a new incident; the key, not the certificate, for sharing-key-of).
    public var canonical: [String: String] {
        var out: [String: String] = [:]
        if let key = publicKeySHA256 { out["public_key_sha256"] = key }
        if let issuedBy { out["issued_by"] = issuedBy.id.uuidString.lowercased() }
        if let sanPattern { out["san_matches"] = sanPattern.text }
        if let profile { out["profile"] = profile.id.uuidString.lowercased() }
        if let endpoint { out["endpoint"] = endpoint.id.uuidString.lowercased() }
        return out
    }

    /// The predicate selecting matching rows of `certbus.certificates c`, with its parameters
    /// numbered from `first` (`$first`, `$first+1`, ...). Every criterion is one indexed condition;
    /// the SQL text is made of constants only.
    public func predicate(firstParameter first: Int) -> (sql: String, parameters: [any PostgresEncodable]) {
        var conditions: [String] = []
        var parameters: [any PostgresEncodable] = []
        func next() -> Int { first + parameters.count }
        if let key = publicKeySHA256 {
            conditions.append("c.public_key_sha256 = $\(next())")
            parameters.append(key)
        }
        if issuedBy != nil {
            // The subtree's ids as a parameter (not a subquery): the planner then estimates from the
            // statistics of each CA how many certificates match, and picks the index that suits.
            conditions.append("c.ca_id = ANY($\(next())::uuid[])")
            parameters.append(issuingCAs.map { $0.uuidString.lowercased() })
        }
        if let sanPattern {
            let n = next()
            conditions.append(
                "certbus.certificate_names_text(c.common_name, c.subject_alternative_names) LIKE '% ' || certbus.certificate_name_like($\(n)::text) || ' %'"
                    + " AND certbus.certificate_names_match(c.common_name, c.subject_alternative_names, $\(n)::text)")
            parameters.append(sanPattern.text)
        }
        if let profile {
            conditions.append("c.profile_id = $\(next())::uuid")
            parameters.append(profile.id)
        }
        if let endpoint {
            conditions.append("c.id IN (SELECT ec.certificate_id FROM certbus.endpoint_certificates ec WHERE ec.endpoint_id = $\(next())::uuid)")
            parameters.append(endpoint.id)
        }
        return (conditions.isEmpty ? "true" : conditions.joined(separator: " AND "), parameters)
    }
}

/// A row named on the command line: its id and its name.
public struct NamedReference: Sendable, Equatable {
    public var id: UUID
    public var name: String
    public init(id: UUID, name: String) {
        self.id = id
        self.name = name
    }
}

/// Resolves selectors: every name must name something that exists.
public enum CertificateSelection {
    /// Resolves `selector`; throws ``CertificateSelectionError`` naming what does not exist (an unknown
    /// CA, certificate, profile or endpoint, or a certificate whose public key is unknown), or an
    /// empty selector.
    public static func resolve(_ selector: CertificateSelector, on c: Connection) throws -> ResolvedSelector {
        guard !selector.isEmpty else {
            throw CertificateSelectionError(
                "give at least one of --sharing-key-of, --issued-by, --san-matches, --profile, --endpoint (or --selector key=value)")
        }
        var resolved = ResolvedSelector(selector: selector, sanPattern: selector.sanPattern)
        if let reference = selector.sharingKeyOf {
            guard let certificate = try CertificateStore.find(idOrFingerprint: reference, on: c) else {
                throw CertificateSelectionError("unknown certificate \(reference) (give its id or SHA-256 fingerprint)")
            }
            let key = try c.query("SELECT public_key_sha256 FROM certbus.certificates WHERE id = $1", [certificate.id])
                .firstRow?.decode("public_key_sha256", as: String?.self)
            guard let key else {
                throw CertificateSelectionError("certificate \(certificate.id.uuidString.lowercased()) has no readable public key")
            }
            resolved.publicKeySHA256 = key
        }
        if let name = selector.issuedBy {
            let ca = try lookup("certificate_authorities", name, what: "CA", list: "certbus ca list", on: c)
            resolved.issuedBy = ca
            resolved.issuingCAs = try c.query("SELECT ca_id FROM certbus.certificate_authority_tree WHERE ancestor_id = $1 ORDER BY depth, ca_id",
                                              [ca.id]).map { try $0.decode("ca_id") }
        }
        if let name = selector.profile {
            resolved.profile = try lookup("ra_profiles", name, what: "profile", list: "certbus profile list", on: c)
        }
        if let name = selector.endpoint {
            resolved.endpoint = try lookup("endpoints", name, what: "endpoint", list: "certbus endpoint list", on: c)
        }
        return resolved
    }

    /// The (id, name) of the row of `table` named `name` or with id `name`.
    private static func lookup(_ table: String, _ name: String, what: String, list: String, on c: Connection) throws -> NamedReference {
        let sql: String
        switch table {
        case "certificate_authorities": sql = "SELECT id, name FROM certbus.certificate_authorities WHERE name = $1 OR id::text = lower($1)"
        case "ra_profiles": sql = "SELECT id, name FROM certbus.ra_profiles WHERE name = $1 OR id::text = lower($1)"
        default: sql = "SELECT id, name FROM certbus.endpoints WHERE name = $1 OR id::text = lower($1)"
        }
        guard let row = try c.query(sql, [name]).firstRow else {
            throw CertificateSelectionError("unknown \(what) \"\(name)\" (see \(list))")
        }
        return NamedReference(id: try row.decode("id"), name: try row.decode("name"))
    }
}

/// A selector that names something that does not exist, or selects nothing to act on.
public struct CertificateSelectionError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
