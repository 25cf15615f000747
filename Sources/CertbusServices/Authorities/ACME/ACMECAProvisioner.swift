import CertbusCore
import Foundation
import PKI
import Postgres

/// Adds ACME CAs: a `kind = 'ACME'` row with the settings as configuration and a fresh account
/// key sealed under the KEK. The CA is not contacted: the account is created on first use
/// (issuance or CA_REFRESH), and its URL is then stored in the configuration.
public enum ACMECAProvisioner {
    /// Creates the CA in one transaction on `connection`, with a CA_CREATED audit row, and
    /// returns the row. Fails with ``CACreationError`` and changes nothing when the name is
    /// invalid or taken or the settings are invalid.
    public static func create(
        name: String, settings: ACMESettings, keyEncryptionKey: KeyEncryptionKey, actor: Actor,
        on connection: Connection
    ) throws -> CertificateAuthorityRecord {
        guard name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", options: .regularExpression) != nil else {
            throw CACreationError(message: "invalid CA name \"\(name)\": use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit")
        }
        do throws(ACMEError) {
            _ = try settings.clientConfiguration()
            _ = try settings.responderAddress()
        } catch {
            throw CACreationError(message: error.kindDescription)
        }
        let id = UUID()
        let key = try ACMEAccountKeyVault.generate()
        let sealed = try ACMEAccountKeyVault.seal(key, caID: id, with: keyEncryptionKey)
        return try connection.withTransaction { c in
            guard try c.query("SELECT 1 FROM certbus.certificate_authorities WHERE name = $1", [name]).isEmpty else {
                throw CACreationError(message: "a CA named \"\(name)\" already exists")
            }
            try c.execute(
                """
                INSERT INTO certbus.certificate_authorities (id, name, kind, status, encrypted_private_key, configuration)
                VALUES ($1, $2, 'ACME', 'ACTIVE', $3, $4::jsonb)
                """, [id, name, sealed, try PostgresJSON(encoding: settings)])
            try Lifecycle.audit(
                "CA_CREATED", entityType: "CA", entityId: id.uuidString.lowercased(), actor: actor,
                details: ["name": name, "kind": ACMEConnector.kind, "directoryURL": settings.directoryURL,
                          "http01Address": settings.http01Address, "accountKeyAlgorithm": key.algorithm.description],
                on: c)
            guard let record = try CertificateAuthorityStore.find(id: id, on: c) else {
                throw CACreationError(message: "the new CA \(id) vanished")
            }
            return record
        }
    }
}
