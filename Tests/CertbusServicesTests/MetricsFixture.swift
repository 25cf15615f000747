import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import CertbusServices

/// A database filled with known certificates, jobs, alerts, agents and audit rows, for the
/// metrics tests, and the rule the expiry buckets follow (re-implemented here, not taken from
/// the product).
enum MetricsFixture {
    /// Profile names and what the fixture put in.
    struct Contents {
        /// Seconds from the database's now() to the earliest unrenewed expiry per profile ("" = no profile).
        var earliest: [String: Double]
    }

    /// Inserts one certificate; `expiresIn` seconds from now (negative: in the past).
    static func certificate(
        _ c: Connection, serial: String, profile: String?, status: String, expiresIn: Double, renewed: Bool = false
    ) throws {
        try c.execute(
            """
            INSERT INTO certbus.certificates (ca_id, profile_id, serial_number, fingerprint_sha256, subject, issuer, key_algorithm,
                                              not_before, not_after, certificate_pem, status, revoked_at, renew_at)
            SELECT ca.id, p.id, $1, md5($1) || md5($1 || '.'), 'CN=' || $1, 'CN=metrics test CA', 'EC-P256',
                   now() - interval '90 days', now() + make_interval(secs => $3), 'PEM', $4,
                   CASE WHEN $4 = 'REVOKED' THEN now() END,
                   CASE WHEN $5 OR p.id IS NULL THEN NULL ELSE now() END
              FROM (SELECT id FROM certbus.certificate_authorities WHERE name = 'metrics-ca') ca
              LEFT JOIN certbus.ra_profiles p ON p.name = $2
            """, [serial, profile, expiresIn, status, renewed])
    }

    /// The fixture: a CA, profiles web and api, nine certificates, jobs of every counted status,
    /// three alerts, four agents and a few audit rows.
    static func fill(_ c: Connection) throws -> Contents {
        try c.execute("INSERT INTO certbus.certificate_authorities (name, kind) VALUES ('metrics-ca', 'BUILT_IN')")
        try c.execute(
            """
            INSERT INTO certbus.ra_profiles (name, ca_id)
            SELECT n, id FROM certbus.certificate_authorities, unnest(ARRAY['web', 'api', 'empty']) n WHERE name = 'metrics-ca'
            """)
        let hour = 3600.0, day = 86_400.0
        try certificate(c, serial: "01", profile: "web", status: "VALID", expiresIn: 3 * hour)
        try certificate(c, serial: "02", profile: "web", status: "VALID", expiresIn: 1 * hour, renewed: true)
        try certificate(c, serial: "03", profile: "web", status: "EXPIRING", expiresIn: 5 * day)
        try certificate(c, serial: "04", profile: "api", status: "VALID", expiresIn: 20 * day)
        try certificate(c, serial: "05", profile: "api", status: "VALID", expiresIn: 45 * day)
        try certificate(c, serial: "06", profile: "api", status: "VALID", expiresIn: 100 * day)
        try certificate(c, serial: "07", profile: nil, status: "VALID", expiresIn: 10 * day)
        try certificate(c, serial: "08", profile: "web", status: "EXPIRED", expiresIn: -2 * day)
        try certificate(c, serial: "09", profile: "api", status: "REVOKED", expiresIn: 30 * day)

        // Jobs: three NOOPs due (the oldest ten minutes late), one scheduled for later, one RUNNING,
        // two FAILED and one CANCELLED.
        for minutes in [10, 5, 1] {
            try c.execute(
                "INSERT INTO certbus.jobs (kind, name, run_at) VALUES ('NOOP', 'due', now() - make_interval(mins => $1))", [minutes])
        }
        try c.execute("INSERT INTO certbus.jobs (kind, name, run_at) VALUES ('NOOP', 'later', now() + interval '1 hour')")
        try c.execute(
            """
            INSERT INTO certbus.jobs (kind, name, status, attempt, max_attempts, started_at, locked_by, lease_expires_at)
            VALUES ('NOOP', 'running', 'RUNNING', 1, 3, now(), 'test:1:1', now() + interval '1 hour')
            """)
        for (kind, status) in [("NOOP", "FAILED"), ("ISSUE_CERT", "FAILED"), ("NOOP", "CANCELLED")] {
            try c.execute(
                """
                INSERT INTO certbus.jobs (kind, name, payload, status, attempt, max_attempts, started_at, completed_at, error)
                VALUES ($1, 'finished', CASE WHEN $1 = 'ISSUE_CERT' THEN jsonb_build_object('request_id', gen_random_uuid())
                                             ELSE '{}' END, $2, 1, 1, now(), now(), 'boom')
                """, [kind, status])
        }
        // A SUCCESS job: never counted.
        try c.execute(
            "INSERT INTO certbus.jobs (kind, name, status, attempt, max_attempts, started_at, completed_at) VALUES ('NOOP', 'ok', 'SUCCESS', 1, 1, now(), now())")

        // Alerts: ERROR unread and open; WARN read and open; WARN unread and resolved.
        try c.execute("SELECT certbus.raise_alert('ERROR', 'ERROR', 'boom', 'm', 'JOB', '1', 'metrics-test:1')")
        try c.execute("SELECT certbus.raise_alert('WARN', 'WARN', 'read', 'm', 'JOB', '2', 'metrics-test:2')")
        try c.execute("UPDATE certbus.alerts SET read_at = now(), read_by = 'tester' WHERE cause_key = 'metrics-test:2'")
        try c.execute("SELECT certbus.raise_alert('WARN', 'WARN', 'gone', 'm', 'JOB', '3', 'metrics-test:3')")
        try c.execute("SELECT certbus.resolve_alerts('metrics-test:3', 'test')")

        // Agents: two online, one offline, one never seen.
        try c.execute(
            """
            INSERT INTO certbus.agents (name, status, last_seen_at) VALUES
              ('a1', 'ONLINE', now()), ('a2', 'ONLINE', now()), ('a3', 'OFFLINE', now() - interval '1 hour'), ('a4', 'NEVER_SEEN', NULL)
            """)
        try AuditFixture.write(3, on: c, entity: "metrics")
        return Contents(earliest: ["web": 3 * hour, "api": 20 * day, "": 10 * day])
    }

    /// Active certificates per `within_days` bucket by the documented rule: the UTC date of
    /// not_after is before today (UTC) plus N days.
    static func expectedBuckets(_ c: Connection) throws -> [String: Double] {
        let rows = try c.query(
            """
            SELECT (not_after AT TIME ZONE 'UTC')::date - (now() AT TIME ZONE 'UTC')::date AS days_ahead
              FROM certbus.certificates WHERE status IN ('VALID', 'EXPIRING')
            """)
        let daysAhead = try rows.map { try $0.decode("days_ahead", as: Int.self) }
        var buckets: [String: Double] = [:]
        for n in [1, 7, 14, 30, 60, 90] { buckets[String(n)] = Double(daysAhead.filter { $0 < n }.count) }
        return buckets
    }
}
