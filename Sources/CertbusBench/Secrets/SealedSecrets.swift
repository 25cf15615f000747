import CertbusServices
import Foundation
import PKI
import Postgres

/// The secrets a certbus database keeps sealed under a key-encryption key, opened so that a scan
/// knows what their leaks would look like: built-in CA keys, ACME account keys, server-generated
/// certificate keys (on certificates and on requests still in flight) and webhook signing secrets.
public struct SealedSecrets: Sendable {
    /// One needle per distinct secret found.
    public var needles: [SecretNeedle] = []
    /// Sealed values that did not open with the KEK (another KEK sealed them, or an unknown kind),
    /// described by where they are; a scan cannot look for these.
    public var unopened: [String] = []
    /// bytea columns that hold values but are neither a known sealed column nor a known public one
    /// (hashes, signatures, public keys): a new place secrets might live, for a person to review.
    public var unreviewedColumns: [String] = []

    /// bytea columns known to hold nothing secret.
    static let publicByteaColumns: Set<String> = [
        "audit_log.chain_hash", "audit_seal_state.chain_hash", "audit_checkpoints.head_hash",
        "audit_checkpoints.public_key", "audit_checkpoints.signature",
    ]
    /// bytea columns read by ``read(on:keyEncryptionKey:label:)``.
    static let sealedColumns: Set<String> = [
        "certificate_authorities.encrypted_private_key", "certificates.encrypted_private_key",
        "certificate_requests.encrypted_private_key", "notification_profiles.sealed_secret",
    ]

    /// Opens every sealed value of the `certbus` schema reachable on `connection` with `kek`;
    /// `label` prefixes the needles' names (e.g. the database's name).
    public static func read(on connection: Connection, keyEncryptionKey kek: KeyEncryptionKey, label: String) throws -> SealedSecrets {
        var result = SealedSecrets()
        var seen = Set<Data>()
        func add(_ der: Data, _ name: String) throws {
            let needle = try SecretNeedle.privateKey(pkcs8: der, name: "\(label): \(name)")
            let identity = Data(needle.patterns.first?.bytes ?? [])
            if seen.insert(identity).inserted { result.needles.append(needle) }
        }
        for row in try connection.query(
            "SELECT id, name, kind, encrypted_private_key FROM certbus.certificate_authorities WHERE encrypted_private_key IS NOT NULL ORDER BY name")
        {
            let id: UUID = try row.decode("id")
            let name: String = try row.decode("name")
            let kind: String = try row.decode("kind")
            let purpose = kind == BuiltInCertificateAuthority.kind ? BuiltInCertificateAuthority.keyPurpose : ACMEAccountKeyVault.purpose
            let sealed: Data = try row.decode("encrypted_private_key")
            if let der = try? kek.open(sealed, purpose: purpose, id: id) {
                try add(der, "\(kind == "ACME" ? "account key" : "private key") of CA \(name)")
            } else {
                result.unopened.append("certificate_authorities \(name) (\(kind))")
            }
        }
        let generated = [
            ("certificates", "SELECT request_id::text AS owner, encrypted_private_key FROM certbus.certificates WHERE encrypted_private_key IS NOT NULL"),
            ("certificate_requests", "SELECT id::text AS owner, encrypted_private_key FROM certbus.certificate_requests WHERE encrypted_private_key IS NOT NULL"),
        ]
        for (table, sql) in generated {
            for row in try connection.query(sql) {
                let owner: String? = try row.decode("owner")
                let sealed: Data = try row.decode("encrypted_private_key")
                if let owner, let id = UUID(uuidString: owner), let der = try? kek.open(sealed, purpose: CertificateKeys.purpose, id: id) {
                    try add(der, "generated key of request \(owner)")
                } else {
                    result.unopened.append("\(table) row of request \(owner ?? "(none)")")
                }
            }
        }
        for row in try connection.query(
            "SELECT id, name, sealed_secret FROM certbus.notification_profiles WHERE sealed_secret IS NOT NULL")
        {
            let id: UUID = try row.decode("id")
            let name: String = try row.decode("name")
            let sealed: Data = try row.decode("sealed_secret")
            if let secret = try? NotificationSecret.open(sealed, profileId: id, with: kek) {
                result.needles.append(.text(String(decoding: secret, as: UTF8.self), name: "\(label): signing secret of notification profile \(name)"))
            } else {
                result.unopened.append("notification_profiles \(name)")
            }
        }
        result.unreviewedColumns = try unreviewedByteaColumns(on: connection)
        return result
    }

    /// bytea columns of the `certbus` schema holding values that are neither known sealed nor known public.
    static func unreviewedByteaColumns(on connection: Connection) throws -> [String] {
        let columns = try connection.query(
            """
            SELECT c.relname AS t, a.attname AS col
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'certbus' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
               AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'bytea'::regtype
             ORDER BY 1, 2
            """)
        var found: [String] = []
        for row in columns {
            let name = "\(try row.decode("t", as: String.self)).\(try row.decode("col", as: String.self))"
            guard !publicByteaColumns.contains(name), !sealedColumns.contains(name) else { continue }
            let table = try connection.quoteIdentifier(try row.decode("t"))
            let column = try connection.quoteIdentifier(try row.decode("col"))
            let used = try connection.query("SELECT EXISTS (SELECT 1 FROM certbus.\(table) WHERE \(column) IS NOT NULL) AS v")[0]
                .decode("v", as: Bool.self)
            if used { found.append(name) }
        }
        return found
    }
}

/// Every row of every table of the `certbus` schema as text, for a scan: `row::text` (a record
/// literal: every column, jsonb as JSON text, bytea as hex), one row at a time.
public enum DatabaseText {
    /// Calls `body` with a label (table and row position) and the text of each row.
    public static func forEachRow(on connection: Connection, _ body: (String, String) throws -> Void) throws {
        let tables = try connection.query(
            """
            SELECT c.relname AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'certbus' AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY 1
            """)
        for table in tables {
            let name: String = try table.decode("t")
            let quoted = try connection.quoteIdentifier(name)
            for row in try connection.query("SELECT tableoid::regclass::text || ' ' || ctid::text AS at, r::text AS body FROM certbus.\(quoted) r") {
                try body("row \(try row.decode("at", as: String.self))", try row.decode("body"))
            }
        }
    }
}
