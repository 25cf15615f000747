import Foundation
import PKI
import Postgres

/// Records certificates found outside certbus's own issuance in `certbus.certificates`.
public enum CertificateInventory {
    /// The inventory's name for a key algorithm (EC-P256, EC-P384, EC-P521, RSA, ED25519), UNKNOWN when unreadable.
    public static func keyAlgorithmName(_ algorithm: KeyAlgorithm?) -> String {
        algorithm?.profileName ?? "UNKNOWN"
    }

    /// Inserts `certificate` (with the certificates above it as its chain) unless a certificate with the
    /// same SHA-256 fingerprint is already known. Returns its id and whether it was new. The caller's
    /// transaction decides whether the row stays.
    public static func record(
        _ certificate: Certificate, chain: [Certificate], source: String = "DISCOVERED", caId: UUID? = nil,
        now: Date = Date(), on connection: Connection
    ) throws -> (id: UUID, isNew: Bool) {
        let fingerprint = certificate.sha256Fingerprint
        let status = now > certificate.notAfter ? "EXPIRED" : "VALID"
        let inserted = try connection.query(
            """
            INSERT INTO certbus.certificates
              (ca_id, serial_number, fingerprint_sha256, common_name, subject, issuer, subject_alternative_names,
               key_algorithm, key_size, not_before, not_after, status, certificate_pem, chain_pem, source)
            VALUES ($1, $2, $3, $4, $5, $6, $7::text[], $8, $9, $10, $11, $12, $13, $14, $15)
            ON CONFLICT (fingerprint_sha256) DO NOTHING
            RETURNING id
            """,
            [
                caId, certificate.serialNumberHex.lowercased(), fingerprint, certificate.subject.commonName,
                certificate.subject.description, certificate.issuer.description,
                certificate.subjectAlternativeNames.map(\.description), keyAlgorithmName(certificate.publicKeyAlgorithm),
                certificate.publicKeyAlgorithm?.bits, certificate.notBefore, certificate.notAfter, status, certificate.pem,
                chain.map(\.pem).joined(), source,
            ])
        if let row = inserted.firstRow { return (try row.decode("id"), true) }
        let existing = try connection.query(
            "SELECT id FROM certbus.certificates WHERE fingerprint_sha256 = $1", [fingerprint])
        guard let row = existing.firstRow else {
            throw PostgresError(kind: .server, message: "certificate \(fingerprint) neither inserted nor found")
        }
        return (try row.decode("id"), false)
    }
}
