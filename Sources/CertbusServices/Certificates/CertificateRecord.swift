import CertbusCore
import Foundation
import PKI
import Postgres

/// One row of `certbus.certificates`, without the PEM bodies unless asked for.
public struct CertificateRecord: Sendable, Equatable, Codable {
    /// Certificate id.
    public var id: UUID
    /// Issuing CA.
    public var caId: UUID?
    /// Issuing CA's name.
    public var caName: String?
    /// RA profile.
    public var profileId: UUID?
    /// RA profile name.
    public var profileName: String?
    /// Group.
    public var groupId: UUID?
    /// Serial, lowercase hex.
    public var serialNumber: String
    /// SHA-256 fingerprint, lowercase hex.
    public var fingerprint: String
    /// Subject common name.
    public var commonName: String?
    /// Subject DN.
    public var subject: String
    /// Issuer DN.
    public var issuer: String
    /// DNS names and IP addresses.
    public var subjectAlternativeNames: [String]
    /// SHA-256 of the DER SubjectPublicKeyInfo (certificates sharing a key have the same), if readable.
    public var publicKeySHA256: String?
    /// EC-P256, RSA, ...
    public var keyAlgorithm: String
    /// Key size in bits.
    public var keySize: Int?
    /// Start of validity.
    public var notBefore: Date
    /// Expiry.
    public var notAfter: Date
    /// VALID, EXPIRING, EXPIRED, REVOKED.
    public var status: String
    /// When revoked.
    public var revokedAt: Date?
    /// RFC 5280 reason name.
    public var revocationReason: String?
    /// The certificate it renewed.
    public var predecessorId: UUID?
    /// The certificate that renewed it.
    public var successorId: UUID?
    /// When automatic renewal is due.
    public var renewAt: Date?
    /// Consecutive failed renewals.
    public var renewalFailures: Int
    /// Why the last renewal failed.
    public var renewalLastError: String?
    /// Whether certbus holds its private key.
    public var hasServerKey: Bool
    /// When the server-held key was exported.
    public var privateKeyExportedAt: Date?
    /// ISSUED, IMPORTED or DISCOVERED.
    public var source: String
    /// The request that produced it.
    public var requestId: UUID?
    /// When recorded.
    public var createdAt: Date
    /// The certificate PEM (only when loaded with bodies).
    public var certificatePEM: String?
    /// The chain PEM (only when loaded with bodies).
    public var chainPEM: String?

    static func columns(withBodies: Bool) -> String {
        """
        c.id, c.ca_id, a.name AS ca_name, c.profile_id, p.name AS profile_name, c.group_id, c.serial_number,
        c.fingerprint_sha256, c.common_name, c.subject, c.issuer, c.subject_alternative_names, c.public_key_sha256, c.key_algorithm, c.key_size,
        c.not_before, c.not_after, c.status, c.revoked_at, c.revocation_reason, c.predecessor_id,
        (SELECT s.id FROM certbus.certificates s WHERE s.predecessor_id = c.id ORDER BY s.created_at LIMIT 1) AS successor_id,
        c.renew_at, c.renewal_failures, c.renewal_last_error, c.encrypted_private_key IS NOT NULL AS has_server_key,
        c.private_key_exported_at, c.source, c.request_id, c.created_at
        \(withBodies ? ", c.certificate_pem, c.chain_pem" : ", NULL::text AS certificate_pem, NULL::text AS chain_pem")
        """
    }

    static let from = """
        certbus.certificates c LEFT JOIN certbus.certificate_authorities a ON a.id = c.ca_id
        LEFT JOIN certbus.ra_profiles p ON p.id = c.profile_id
        """

    init(row: Row) throws {
        id = try row.decode("id")
        caId = try row.decode("ca_id")
        caName = try row.decode("ca_name")
        profileId = try row.decode("profile_id")
        profileName = try row.decode("profile_name")
        groupId = try row.decode("group_id")
        serialNumber = try row.decode("serial_number")
        fingerprint = try row.decode("fingerprint_sha256")
        commonName = try row.decode("common_name")
        subject = try row.decode("subject")
        issuer = try row.decode("issuer")
        subjectAlternativeNames = try row.decode("subject_alternative_names")
        publicKeySHA256 = try row.decode("public_key_sha256")
        keyAlgorithm = try row.decode("key_algorithm")
        keySize = try row.decode("key_size")
        notBefore = try row.decode("not_before")
        notAfter = try row.decode("not_after")
        status = try row.decode("status")
        revokedAt = try row.decode("revoked_at")
        revocationReason = try row.decode("revocation_reason")
        predecessorId = try row.decode("predecessor_id")
        successorId = try row.decode("successor_id")
        renewAt = try row.decode("renew_at")
        renewalFailures = try row.decode("renewal_failures")
        renewalLastError = try row.decode("renewal_last_error")
        hasServerKey = try row.decode("has_server_key")
        privateKeyExportedAt = try row.decode("private_key_exported_at")
        source = try row.decode("source")
        requestId = try row.decode("request_id")
        createdAt = try row.decode("created_at")
        certificatePEM = try row.decode("certificate_pem")
        chainPEM = try row.decode("chain_pem")
    }
}

/// Which certificates `cert list` shows.
public struct CertificateFilter: Sendable, Equatable {
    /// Only certificates expiring within this many seconds from now (and not yet expired).
    public var expiringWithin: TimeInterval?
    /// Only these statuses (VALID, EXPIRING, EXPIRED, REVOKED).
    public var statuses: [String] = []
    /// Only certificates matching this blast-radius selection (key, CA subtree, names, profile, endpoint).
    public var selection: ResolvedSelector?
    /// At most this many rows.
    public var limit: Int = 1000

    /// No filter: the newest 1000 certificates.
    public init(expiringWithin: TimeInterval? = nil, statuses: [String] = [], selection: ResolvedSelector? = nil, limit: Int = 1000) {
        self.expiringWithin = expiringWithin
        self.statuses = statuses
        self.selection = selection
        self.limit = limit
    }

    /// The WHERE condition on `certbus.certificates c` and its parameters ($1, $2, ...); throws for an unknown status.
    func condition() throws -> (sql: String, parameters: [any PostgresEncodable]) {
        let statuses = self.statuses.map { $0.uppercased() }
        let known = ["VALID", "EXPIRING", "EXPIRED", "REVOKED"]
        if let bad = statuses.first(where: { !known.contains($0) }) {
            throw RequestRefusal(.invalidRequest, "unknown certificate status \(bad) (use \(known.joined(separator: ", ")))")
        }
        var sql = """
            ($1::float8 IS NULL OR (c.not_after > now() AND c.not_after <= now() + make_interval(secs => $1::float8)
                                    AND c.status <> 'REVOKED'))
            AND (cardinality($2::text[]) = 0 OR c.status = ANY($2::text[]))
            """
        var parameters: [any PostgresEncodable] = [expiringWithin, statuses]
        if let selection {
            let predicate = selection.predicate(firstParameter: 3)
            sql += " AND " + predicate.sql
            parameters += predicate.parameters
        }
        return (sql, parameters)
    }
}

/// Reads certificates.
public enum CertificateStore {
    /// The certificate with this id or SHA-256 fingerprint (hex, colons and case ignored), with its PEM bodies.
    public static func find(idOrFingerprint: String, on connection: Connection) throws -> CertificateRecord? {
        if let id = UUID(uuidString: idOrFingerprint) {
            return try connection.query("SELECT \(CertificateRecord.columns(withBodies: true)) FROM \(CertificateRecord.from) WHERE c.id = $1", [id])
                .firstRow.map(CertificateRecord.init(row:))
        }
        let hex = idOrFingerprint.replacingOccurrences(of: ":", with: "").lowercased()
        guard hex.count == 64, hex.allSatisfy(\.isHexDigit) else { return nil }
        return try connection.query(
            "SELECT \(CertificateRecord.columns(withBodies: true)) FROM \(CertificateRecord.from) WHERE c.fingerprint_sha256 = $1", [hex]
        ).firstRow.map(CertificateRecord.init(row:))
    }

    /// Certificates matching `filter`, soonest expiry first when filtering by expiry, newest first otherwise.
    public static func list(_ filter: CertificateFilter, on connection: Connection) throws -> [CertificateRecord] {
        let (sql, parameters) = try listQuery(filter)
        return try connection.query(sql, parameters).map(CertificateRecord.init(row:))
    }

    /// The statement ``list(_:on:)`` runs, with its parameters (for EXPLAIN in benchmarks).
    public static func listQuery(_ filter: CertificateFilter) throws -> (sql: String, parameters: [any PostgresEncodable]) {
        let (condition, parameters) = try filter.condition()
        let order = filter.expiringWithin == nil ? "c.created_at DESC, c.id" : "c.not_after, c.id"
        return ("""
            SELECT \(CertificateRecord.columns(withBodies: false)) FROM \(CertificateRecord.from)
             WHERE \(condition)
             ORDER BY \(order) LIMIT $\(parameters.count + 1)
            """, parameters + [max(1, filter.limit)])
    }

    /// How many certificates match `filter` (its limit ignored).
    public static func count(_ filter: CertificateFilter, on connection: Connection) throws -> Int {
        let (sql, parameters) = try countQuery(filter)
        return try connection.query(sql, parameters)[0].decode("n")
    }

    /// The statement ``count(_:on:)`` runs, with its parameters (for EXPLAIN in benchmarks).
    public static func countQuery(_ filter: CertificateFilter) throws -> (sql: String, parameters: [any PostgresEncodable]) {
        let (condition, parameters) = try filter.condition()
        return ("SELECT count(*) AS n FROM certbus.certificates c WHERE \(condition)", parameters)
    }

    /// The renewal line of a certificate: its predecessors (oldest first), itself, its successors.
    public static func lineage(of id: UUID, on connection: Connection) throws -> [CertificateRecord] {
        try connection.query(
            """
            WITH RECURSIVE back AS (
                SELECT id, predecessor_id, 0 AS depth FROM certbus.certificates WHERE id = $1
                UNION ALL SELECT c.id, c.predecessor_id, back.depth - 1 FROM certbus.certificates c JOIN back ON c.id = back.predecessor_id
            ), forward AS (
                SELECT id, 0 AS depth FROM certbus.certificates WHERE id = $1
                UNION ALL SELECT c.id, forward.depth + 1 FROM certbus.certificates c JOIN forward ON c.predecessor_id = forward.id
            ), line AS (SELECT id, depth FROM back UNION SELECT id, depth FROM forward)
            SELECT \(CertificateRecord.columns(withBodies: false)) FROM line JOIN \(CertificateRecord.from) ON c.id = line.id
             ORDER BY line.depth, c.created_at
            """, [id]
        ).map(CertificateRecord.init(row:))
    }
}
