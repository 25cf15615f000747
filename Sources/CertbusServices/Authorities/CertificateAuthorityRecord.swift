import Foundation
import Postgres

/// One row of `certbus.certificate_authorities`, as connectors and commands see it.
public struct CertificateAuthorityRecord: Sendable, Equatable {
    /// CA status in certbus.
    public enum Status: String, Sendable, Codable {
        /// Accepts requests.
        case active = "ACTIVE"
        /// Refuses new issuance; existing certificates stay valid.
        case disabled = "DISABLED"
    }

    /// CA id.
    public var id: UUID
    /// Unique short name.
    public var name: String
    /// Connector kind, e.g. "BUILT_IN" or "ACME".
    public var kind: String
    /// ACTIVE or DISABLED.
    public var status: Status
    /// For a built-in intermediate: the CA that signed it.
    public var parentId: UUID?
    /// The CA's own certificate, PEM (built-in).
    public var certificatePEM: String?
    /// Certificates above the CA up to the root, PEM.
    public var chainPEM: String?
    /// The CA private key sealed under the key-encryption key (built-in).
    public var encryptedPrivateKey: Data?
    /// The connector settings, JSON text (decode the fields you need, e.g. ``CAConfiguration``).
    public var configurationJSON: String
    /// Expiry of the CA certificate, when known.
    public var certificateNotAfter: Date?
    /// Last successful CA_REFRESH.
    public var lastRefreshedAt: Date?
    /// Last refresh error, nil when healthy.
    public var lastError: String?
    /// When the row last changed; connectors made from an older version are rebuilt.
    public var updatedAt: Date
    /// When the CA was added.
    public var createdAt: Date

    /// The column list ``init(row:)`` expects, for `SELECT \(columns) FROM certbus.certificate_authorities a`.
    public static let columns = """
        a.id, a.name, a.kind, a.status, a.parent_id, a.certificate_pem, a.chain_pem, a.encrypted_private_key,
        a.configuration::text AS configuration, a.certificate_not_after, a.last_refreshed_at, a.last_error,
        a.updated_at, a.created_at
        """

    /// Decodes a row selected with ``columns``.
    public init(row: Row) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        kind = try row.decode("kind")
        let statusText: String = try row.decode("status")
        status = Status(rawValue: statusText) ?? .disabled
        parentId = try row.decode("parent_id")
        certificatePEM = try row.decode("certificate_pem")
        chainPEM = try row.decode("chain_pem")
        encryptedPrivateKey = try row.decode("encrypted_private_key")
        configurationJSON = try row.decode("configuration")
        certificateNotAfter = try row.decode("certificate_not_after")
        lastRefreshedAt = try row.decode("last_refreshed_at")
        lastError = try row.decode("last_error")
        updatedAt = try row.decode("updated_at")
        createdAt = try row.decode("created_at")
    }

    /// Decodes the configuration as `T` (fields missing from the JSON take `T`'s defaults).
    public func configuration<T: Decodable>(as type: T.Type = T.self) throws -> T {
        try JSONDecoder().decode(T.self, from: Data(configurationJSON.utf8))
    }
}

/// Reads CA rows.
public enum CertificateAuthorityStore {
    /// The CA with this id, or nil.
    public static func find(id: UUID, on connection: Connection) throws -> CertificateAuthorityRecord? {
        try connection.query("SELECT \(CertificateAuthorityRecord.columns) FROM certbus.certificate_authorities a WHERE a.id = $1", [id])
            .firstRow.map(CertificateAuthorityRecord.init(row:))
    }

    /// The CA with this name or id (text), or nil.
    public static func find(nameOrId: String, on connection: Connection) throws -> CertificateAuthorityRecord? {
        if let id = UUID(uuidString: nameOrId) { return try find(id: id, on: connection) }
        return try connection.query("SELECT \(CertificateAuthorityRecord.columns) FROM certbus.certificate_authorities a WHERE a.name = $1", [nameOrId])
            .firstRow.map(CertificateAuthorityRecord.init(row:))
    }

    /// Every CA, by name.
    public static func list(on connection: Connection) throws -> [CertificateAuthorityRecord] {
        try connection.query("SELECT \(CertificateAuthorityRecord.columns) FROM certbus.certificate_authorities a ORDER BY a.name")
            .map(CertificateAuthorityRecord.init(row:))
    }
}
