import CertbusCore
import Foundation
import PKI
import Postgres

/// What `certbus cert export` hands out.
public struct ExportedCertificate: Sendable {
    /// The certificate id.
    public var certificateId: UUID
    /// The certificate, PEM.
    public var certificatePEM: String
    /// The certificates above it (issuer first), PEM.
    public var chainPEM: String
    /// The server-generated private key, PKCS#8 PEM — only when asked for, and only once.
    public var privateKeyPEM: String?
}

/// Why an export was refused; nothing changed.
public struct CertificateExportError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    /// The message.
    public var description: String { message }
}

/// Exports certificates with their chain, and server-generated keys exactly once.
public enum CertificateExport {
    /// Exports the certificate `idOrFingerprint` with its chain. With `withKey`, also its
    /// server-generated private key, opened with `keyEncryptionKey`: allowed once — the export
    /// time is recorded with a PRIVATE_KEY_EXPORTED audit row in the same transaction, and a
    /// second export is refused. Certificates whose requester kept the key have none to export.
    public static func export(
        id idOrFingerprint: String, withKey: Bool, keyEncryptionKey: KeyEncryptionKey?, actor: Actor, on connection: Connection
    ) throws -> ExportedCertificate {
        try connection.withTransaction { c in
            guard let record = try CertificateStore.find(idOrFingerprint: idOrFingerprint, on: c),
                  let pem = record.certificatePEM else {
                throw CertificateExportError(message: "unknown certificate \(idOrFingerprint) (give its id or SHA-256 fingerprint)")
            }
            let idText = record.id.uuidString.lowercased()
            var exported = ExportedCertificate(certificateId: record.id, certificatePEM: pem, chainPEM: record.chainPEM ?? "")
            guard withKey else {
                try Lifecycle.audit(.certificateExported, entityType: .certificate, entityId: idText, actor: actor,
                                    details: ["withKey": false, "fingerprint": record.fingerprint], on: c)
                return exported
            }
            guard let keyEncryptionKey else {
                throw CertificateExportError(message: "exporting a key needs the key-encryption key (CERTBUS_KEK_FILE)")
            }
            let claimed = try c.query(
                """
                UPDATE certbus.certificates SET private_key_exported_at = now()
                 WHERE id = $1 AND encrypted_private_key IS NOT NULL AND private_key_exported_at IS NULL
                RETURNING encrypted_private_key, request_id
                """, [record.id]).firstRow
            guard let claimed else {
                if let at = record.privateKeyExportedAt {
                    throw CertificateExportError(message: "the private key of \(idText) was already exported at \(PostgresTimestamp.format(at)); it can be exported only once")
                }
                throw CertificateExportError(message: "certbus does not hold the private key of \(idText): its requester kept the key (it was issued from a CSR)")
            }
            let sealed: Data = try claimed.decode("encrypted_private_key")
            guard let requestId: UUID = try claimed.decode("request_id") else {
                throw CertificateExportError(message: "the private key of \(idText) has no request record to open it with")
            }
            let key = try PrivateKey(der: try keyEncryptionKey.open(sealed, purpose: CertificateKeys.purpose, id: requestId))
            exported.privateKeyPEM = try key.pkcs8PEM()
            try Lifecycle.audit(.privateKeyExported, entityType: .certificate, entityId: idText, actor: actor,
                                details: ["fingerprint": record.fingerprint, "keyAlgorithm": key.algorithm.description], on: c)
            return exported
        }
    }
}
