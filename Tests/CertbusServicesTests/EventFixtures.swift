import CertbusTesting
import Foundation
import Postgres

/// Rows the event and alert tests need: a CA, profiles, groups and certificates inserted directly.
struct EventFixtures {
    let connection: Connection

    /// Inserts a built-in CA row and returns its id.
    func insertCA(name: String = "test-ca") throws -> UUID {
        try connection.query(
            "INSERT INTO certbus.certificate_authorities (name, kind) VALUES ($1, 'BUILT_IN') RETURNING id", [name]
        )[0].decode("id", as: UUID.self)
    }

    /// Inserts an RA profile with the given alert ladder and returns its id.
    func insertProfile(name: String, caId: UUID, alertDays: [Int] = [30, 14, 7, 1]) throws -> UUID {
        try connection.query(
            "INSERT INTO certbus.ra_profiles (name, ca_id, expiry_alert_days) VALUES ($1, $2, $3::int[]) RETURNING id",
            [name, caId, alertDays]
        )[0].decode("id", as: UUID.self)
    }

    /// Inserts a certificate group and returns its id.
    func insertGroup(name: String) throws -> UUID {
        try connection.query("INSERT INTO certbus.certificate_groups (name) VALUES ($1) RETURNING id", [name])[0]
            .decode("id", as: UUID.self)
    }

    /// Inserts a certificate row valid from `notBefore` to `notAfter` and returns its id.
    func insertCertificate(
        caId: UUID? = nil, profileId: UUID? = nil, groupId: UUID? = nil, commonName: String = "www.example.com",
        notBefore: Date = Date().addingTimeInterval(-86400 * 60), notAfter: Date, status: String = "VALID",
        predecessorId: UUID? = nil
    ) throws -> UUID {
        let serial = String(UInt64.random(in: 1...UInt64.max), radix: 16)
        let fingerprint = (0..<4).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }.joined()
        return try connection.query(
            """
            INSERT INTO certbus.certificates (ca_id, profile_id, group_id, serial_number, fingerprint_sha256,
              common_name, subject, issuer, key_algorithm, not_before, not_after, status, revoked_at,
              certificate_pem, predecessor_id)
            VALUES ($1, $2, $3, $4, $5, $6, 'CN=' || $6, 'CN=Test CA', 'EC-P256', $7, $8, $9,
                    CASE WHEN $9 = 'REVOKED' THEN now() END, 'PEM', $10)
            RETURNING id
            """,
            [caId, profileId, groupId, serial, fingerprint, commonName, notBefore, notAfter, status, predecessorId]
        )[0].decode("id", as: UUID.self)
    }
}

/// Days from now as a date.
func daysFromNow(_ days: Double) -> Date { Date().addingTimeInterval(days * 86400) }
