import Foundation
import Postgres

/// Synthetic but realistic operations history for trying the reports and measuring them:
/// certificate lines renewed over 400 days (web certificates of 90 days renewed at two thirds,
/// internal ones of 398 days, manually renewed and discovered ones that simply expire, a few
/// revocations), renewal requests (a few that failed first), finished jobs of the last 12 weeks
/// with retries, lost leases and final failures (and an outage three weeks ago), and alerts.
/// Every choice comes from a hash of the row number, so the same sizes give the same shape;
/// rows are inserted in time order, as certbus writes them (so BRIN indexes work as in production).
///
/// It writes rows directly (set-based INSERTs, not through the job queue or a CA): certificates
/// carry no real PEM, so use it in a scratch database (`certbus bench report` does), never in
/// one that serves real certificates. It refuses a database that already holds it.
public struct ReportSampleData: Sendable {
    /// About how many certificates to create (lines are sized for it; the exact number is in the summary).
    public var certificates: Int
    /// Finished jobs to create (each with one or more attempts).
    public var jobs: Int
    /// Alerts to create.
    public var alerts: Int

    /// The sample's name prefix (CA, profiles, idempotency keys).
    static let prefix = "sample"

    /// Sizes of the sample; alerts default to one per 20 certificates.
    public init(certificates: Int, jobs: Int, alerts: Int? = nil) {
        self.certificates = certificates
        self.jobs = jobs
        self.alerts = alerts ?? max(1, certificates / 20)
    }

    /// What was created.
    public struct Summary: Sendable, Equatable, Encodable {
        public var certificates: Int
        public var renewals: Int
        public var requests: Int
        public var jobs: Int
        public var attempts: Int
        public var alerts: Int
    }

    /// Inserts the sample in one transaction; `progress` hears each step. Throws `ReportError`
    /// for sizes below zero (or no certificates) and when the sample is already there.
    public func insert(on connection: Connection, progress: (String) -> Void = { _ in }) throws -> Summary {
        guard certificates > 0, jobs >= 0, alerts >= 0 else {
            throw ReportError("sample sizes must be positive (certificates) or zero (jobs, alerts)")
        }
        return try connection.withTransaction { c in
            let exists = try c.query("SELECT count(*)::int AS n FROM certbus.certificate_authorities WHERE name = $1", ["\(Self.prefix)-ca"])
            guard try exists[0].decode("n", as: Int.self) == 0 else {
                throw ReportError("this database already holds the report sample (CA \(Self.prefix)-ca); use a fresh database")
            }
            let ca = try c.query(
                "INSERT INTO certbus.certificate_authorities (name, kind) VALUES ($1, 'BUILT_IN') RETURNING id", ["\(Self.prefix)-ca"]
            )[0].decode("id", as: UUID.self)
            try c.execute(
                """
                INSERT INTO certbus.ra_profiles (name, ca_id, validity_days, auto_renew)
                VALUES ($1 || '-web', $2, 90, true), ($1 || '-internal', $2, 398, true), ($1 || '-manual', $2, 365, false)
                """, [Self.prefix, ca])
            progress("planning certificate lines")
            // About 3 certificates per line on average (see the mix below).
            try c.execute(Self.linesSQL, [max(1, certificates / 3), Self.prefix])
            progress("inserting certificates")
            let inserted = try c.query(Self.certificatesSQL, [Self.prefix, ca])[0]
            progress("inserting renewal requests")
            let requests = try c.query(Self.requestsSQL, [Self.prefix])[0].decode("n", as: Int.self)
            try c.execute("DROP TABLE sample_generations")
            progress("inserting \(jobs) finished jobs and their attempts")
            let jobRow = try c.query(Self.jobsSQL, [jobs, ca])[0]
            progress("inserting \(alerts) alerts")
            let alertCount = try c.query(Self.alertsSQL, [alerts, Self.prefix])[0].decode("n", as: Int.self)
            return Summary(
                certificates: try inserted.decode("n", as: Int.self), renewals: try inserted.decode("renewals", as: Int.self),
                requests: requests, jobs: try jobRow.decode("jobs", as: Int.self),
                attempts: try jobRow.decode("attempts", as: Int.self), alerts: alertCount)
        }
    }

    /// SQL for a fraction in [0, 1) (numeric) from a hash of the SQL text `key`: the sample's
    /// only source of chance.
    static func fraction(_ key: String) -> String { "((abs(hashtext(\(key))::bigint) % 1000000) / 1000000.0)" }

    /// Lines ($1 of them) and their generations: 60 % web (90 days, renewed at 60), 25 % internal
    /// (398 days, renewed at 265), 10 % manual (365 days, never renewed), 5 % discovered.
    /// A line starts up to 400 days ago; generation n is renewed at t0 + n × interval plus a delay
    /// (mostly minutes, sometimes hours, rarely days); 5 % of renewals failed once first.
    static let linesSQL = """
        CREATE TEMP TABLE sample_generations ON COMMIT DROP AS
        WITH lines AS (
          SELECT l, CASE WHEN l % 20 < 12 THEN 'web' WHEN l % 20 < 17 THEN 'internal'
                         WHEN l % 20 < 19 THEN 'manual' ELSE 'discovered' END AS kind,
                 now() - \(fraction("'t0:' || l"))::float8 * interval '400 days' AS t0
            FROM generate_series(1, $1) l
        ), shaped AS (
          SELECT l, kind, t0,
                 CASE kind WHEN 'web' THEN 90 WHEN 'internal' THEN 398 ELSE 365 END AS days,
                 CASE kind WHEN 'web' THEN 60 WHEN 'internal' THEN 265 END AS renew_days
            FROM lines
        ), generations AS (
          SELECT s.*, g AS gen, s.t0 + g * s.renew_days * interval '1 day' AS renew_point,
                 \(fraction("'delay:' || s.l || ':' || g")) AS chance
            FROM shaped s
           CROSS JOIN LATERAL generate_series(
             0, CASE WHEN s.renew_days IS NULL THEN 0
                     ELSE floor(extract(epoch FROM now() - s.t0) / 86400 / s.renew_days)::int END) g
        )
        SELECT l, kind, gen, days, renew_point,
               md5($2 || ':' || l || ':' || gen)::uuid AS id,
               CASE WHEN gen > 0 THEN md5($2 || ':' || l || ':' || (gen - 1))::uuid END AS predecessor_id,
               CASE WHEN gen = 0 THEN t0
                    WHEN chance < 0.87 THEN renew_point + (5 + chance * 1000 % 40)::float8 * interval '1 minute'
                    WHEN chance < 0.97 THEN renew_point + (2 + chance * 1000 % 10)::float8 * interval '1 hour'
                    ELSE renew_point + (24 + chance * 1000 % 48)::float8 * interval '1 hour' END AS created_at,
               gen > 0 AND chance * 100 % 1 < 0.05 AS failed_first
          FROM generations
        """

    /// Certificates from the plan (those created by now), with status from their dates and 0.4 %
    /// revoked; returns how many and how many are renewals.
    static let certificatesSQL = """
        WITH inserted AS (
          INSERT INTO certbus.certificates (id, ca_id, profile_id, serial_number, fingerprint_sha256, common_name,
                                            subject, issuer, subject_alternative_names, key_algorithm, not_before,
                                            not_after, status, revoked_at, revocation_reason, certificate_pem,
                                            predecessor_id, source, created_at, updated_at)
          SELECT g.id, CASE WHEN g.kind <> 'discovered' THEN $2::uuid END, p.id, substr(md5('serial' || g.id::text), 1, 20),
                 md5('fp1' || g.id::text) || md5('fp2' || g.id::text), n.cn, 'CN=' || n.cn,
                 CASE WHEN g.kind = 'discovered' THEN 'CN=Unknown Public CA' ELSE 'CN=Sample Issuing CA' END,
                 ARRAY[n.cn], 'EC-P256', g.created_at, g.created_at + g.days * interval '1 day',
                 CASE WHEN r.revoked_at IS NOT NULL THEN 'REVOKED'
                      WHEN g.created_at + g.days * interval '1 day' < now() THEN 'EXPIRED'
                      WHEN g.created_at + g.days * interval '1 day' < now() + interval '30 days' THEN 'EXPIRING'
                      ELSE 'VALID' END,
                 r.revoked_at, CASE WHEN r.revoked_at IS NOT NULL THEN 'keyCompromise' END, 'sample (no PEM)',
                 g.predecessor_id, CASE WHEN g.kind = 'discovered' THEN 'DISCOVERED' ELSE 'ISSUED' END,
                 g.created_at, g.created_at
            FROM sample_generations g
            LEFT JOIN certbus.ra_profiles p ON p.name = $1 || '-' || g.kind
           CROSS JOIN LATERAL (SELECT CASE g.kind WHEN 'web' THEN 'app' WHEN 'internal' THEN 'svc'
                                                  WHEN 'manual' THEN 'legacy' ELSE 'found' END
                                      || g.l || CASE g.kind WHEN 'internal' THEN '.internal.example' ELSE '.example.com' END AS cn) n
           CROSS JOIN LATERAL (SELECT CASE WHEN abs(hashtext('revoke:' || g.id::text)) % 1000 < 4
                                            AND g.created_at + interval '10 days' < now()
                                           THEN g.created_at + interval '10 days' END AS revoked_at) r
           WHERE g.created_at <= now()
           ORDER BY g.created_at
          RETURNING predecessor_id
        )
        SELECT count(*)::int AS n, count(predecessor_id)::int AS renewals FROM inserted
        """

    /// One ISSUED RENEW request per renewal, made at the renewal point (or, when the renewal
    /// failed once first, a FAILED request then and the ISSUED one half-way to the successor).
    static let requestsSQL = """
        WITH renewals AS (
          SELECT g.*, c.profile_id, c.ca_id, c.common_name
            FROM sample_generations g JOIN certbus.certificates c ON c.id = g.id
           WHERE g.gen > 0
        ), failed AS (
          INSERT INTO certbus.certificate_requests (idempotency_key, operation, status, profile_id, ca_id, predecessor_id,
                       key_source, generated_key_algorithm, common_name, subject_alternative_names, validity_days,
                       binding_sha256, requested_by_type, requested_by_id, error, created_at, updated_at, completed_at)
          SELECT $1 || ':failed:' || id, 'RENEW', 'FAILED', profile_id, ca_id, predecessor_id, 'GENERATED', 'EC-P256',
                 common_name, ARRAY[common_name], days, md5('b1' || id::text) || md5('b2' || id::text), 'SYSTEM',
                 'renewal-scheduler', 'the CA did not answer in time', renew_point, renew_point + interval '5 minutes',
                 renew_point + interval '5 minutes'
            FROM renewals WHERE failed_first
          RETURNING 1
        ), issued AS (
          INSERT INTO certbus.certificate_requests (idempotency_key, operation, status, profile_id, ca_id, predecessor_id,
                       key_source, generated_key_algorithm, common_name, subject_alternative_names, validity_days,
                       binding_sha256, requested_by_type, requested_by_id, certificate_id, created_at, updated_at,
                       completed_at)
          SELECT $1 || ':' || id, 'RENEW', 'ISSUED', profile_id, ca_id, predecessor_id, 'GENERATED', 'EC-P256',
                 common_name, ARRAY[common_name], days, md5('b3' || id::text) || md5('b4' || id::text), 'SYSTEM',
                 'renewal-scheduler', id,
                 CASE WHEN failed_first THEN renew_point + (created_at - renew_point) / 2 ELSE renew_point END,
                 created_at, created_at
            FROM renewals
          RETURNING 1
        )
        SELECT (SELECT count(*) FROM failed)::int + (SELECT count(*) FROM issued)::int AS n
        """

    /// $1 finished jobs of the last 12 weeks by kind, each with its attempts: most succeed at
    /// once; some are retried, lose a lease, or fail for good; RENEW_CERT and ISSUE_CERT fail
    /// far more often (about half of them at least once) during a four-day CA outage three weeks ago.
    static let jobsSQL = """
        WITH planned AS (
          SELECT j, kind, done, chance,
                 CASE WHEN kind IN ('RENEW_CERT', 'ISSUE_CERT') AND done BETWEEN now() - interval '24 days'
                                                                        AND now() - interval '20 days'
                      THEN 0.85 + chance * 0.15 ELSE chance END AS luck
            FROM (SELECT j, (ARRAY['RENEW_CERT', 'RENEW_CERT', 'RENEW_CERT', 'RENEW_CERT', 'RENEW_CERT', 'RENEW_CERT',
                                   'RENEW_CERT', 'RENEW_CERT', 'ISSUE_CERT', 'ISSUE_CERT', 'ISSUE_CERT', 'ISSUE_CERT',
                                   'VALIDATE_DEPLOYMENT', 'VALIDATE_DEPLOYMENT', 'VALIDATE_DEPLOYMENT',
                                   'VALIDATE_DEPLOYMENT', 'DELIVER_NOTIFICATION', 'DELIVER_NOTIFICATION',
                                   'CA_REFRESH', 'DISCOVERY'])[j % 20 + 1] AS kind,
                         now() - \(fraction("'done:' || j"))::float8 * interval '84 days' AS done,
                         \(fraction("'luck:' || j")) AS chance
                    FROM generate_series(1, $1) j) s
        ), shaped AS (
          SELECT p.*, CASE WHEN luck < 0.93 THEN ARRAY['SUCCESS']
                           WHEN luck < 0.975 THEN ARRAY['RETRY', 'SUCCESS']
                           WHEN luck < 0.99 THEN ARRAY['RETRY', 'RETRY', 'SUCCESS']
                           WHEN luck < 0.996 THEN ARRAY['LEASE_EXPIRED', 'SUCCESS']
                           ELSE ARRAY['RETRY', 'RETRY', 'FAILED'] END AS outcomes
            FROM planned p
        ), jobs AS (
          INSERT INTO certbus.jobs (kind, name, status, run_at, payload, attempt, max_attempts, created_at, started_at,
                                    completed_at, error, ca_id)
          SELECT kind, 'sample ' || lower(kind) || ' ' || j,
                 CASE WHEN outcomes[cardinality(outcomes)] = 'FAILED' THEN 'FAILED' ELSE 'SUCCESS' END,
                 done - interval '1 minute' * cardinality(outcomes),
                 CASE kind WHEN 'RENEW_CERT' THEN jsonb_build_object('certificate_id', md5('job' || j)::uuid)
                           WHEN 'ISSUE_CERT' THEN jsonb_build_object('request_id', md5('job' || j)::uuid)
                           WHEN 'VALIDATE_DEPLOYMENT' THEN jsonb_build_object('endpoint_id', md5('job' || j)::uuid)
                           WHEN 'CA_REFRESH' THEN jsonb_build_object('ca_id', $2::uuid)
                           WHEN 'DISCOVERY' THEN jsonb_build_object('targets', jsonb_build_array('192.0.2.' || j % 250 || ':443'))
                           ELSE '{}'::jsonb END || jsonb_build_object('sample', j),
                 cardinality(outcomes), 3, done - interval '1 minute' * cardinality(outcomes) - interval '5 seconds',
                 done - interval '2 seconds', done,
                 CASE WHEN outcomes[cardinality(outcomes)] = 'FAILED' THEN 'sample failure' END,
                 CASE WHEN kind = 'CA_REFRESH' THEN $2::uuid END
            FROM shaped
           ORDER BY done
          RETURNING id, (payload ->> 'sample')::int AS j
        ), attempts AS (
          INSERT INTO certbus.job_attempts (job_id, attempt, kind, worker_id, started_at, finished_at, outcome, error)
          SELECT jobs.id, a.n, s.kind, 'sample-host-' || (s.j % 3 + 1) || ':' || (4000 + s.j % 7) || ':' || (s.j % 4 + 1),
                 s.done - interval '1 minute' * (cardinality(s.outcomes) - a.n) - interval '2 seconds',
                 s.done - interval '1 minute' * (cardinality(s.outcomes) - a.n), a.outcome,
                 CASE WHEN a.outcome = 'SUCCESS' THEN NULL
                      WHEN a.outcome = 'LEASE_EXPIRED' THEN 'lease expired: worker sample-host-' || (s.j % 3 + 1) || ':' || (4000 + s.j % 7) || ' stopped renewing it'
                      WHEN s.kind IN ('RENEW_CERT', 'ISSUE_CERT') AND s.luck <> s.chance
                        THEN 'ACME server https://acme.example.test/acme/order/' || s.j || ' answered 503: service unavailable'
                      WHEN s.kind IN ('RENEW_CERT', 'ISSUE_CERT')
                        THEN 'rate limited: ' || (50 + s.j % 20) || ' certificates already issued for example.com this week'
                      WHEN s.kind = 'VALIDATE_DEPLOYMENT' AND s.j % 2 = 0
                        THEN 'TLS probe of 10.' || s.j % 200 || '.' || s.j % 97 || '.7:443 timed out after 10 s'
                      WHEN s.kind = 'VALIDATE_DEPLOYMENT'
                        THEN 'endpoint ' || md5('ep' || s.j)::uuid || ' serves another certificate than the expected one'
                      WHEN s.kind = 'DELIVER_NOTIFICATION' THEN 'webhook https://hooks.example.test/certbus answered 502'
                      WHEN s.kind = 'CA_REFRESH' THEN 'CRL download from http://pki.example.test/crl/' || s.j % 3 || '.crl failed: connection refused'
                      ELSE 'no route to host 192.0.2.' || s.j % 250 END
            FROM jobs JOIN shaped s USING (j)
           CROSS JOIN LATERAL unnest(s.outcomes) WITH ORDINALITY AS a(outcome, n)
           ORDER BY 6
          RETURNING 1
        )
        SELECT (SELECT count(*) FROM jobs)::int AS jobs, (SELECT count(*) FROM attempts)::int AS attempts
        """

    /// $1 alerts of the last 12 weeks: mostly expiry warnings, some expiry errors, failed jobs
    /// and quiet agents; most resolved, a few still open and unread.
    static let alertsSQL = """
        WITH planned AS (
          SELECT a, now() - \(fraction("'raised:' || a"))::float8 * interval '84 days' AS raised,
                 \(fraction("'kind:' || a")) AS chance
            FROM generate_series(1, $1) a
        ), inserted AS (
          INSERT INTO certbus.alerts (alert_type, severity, title, message, entity_type, entity_id, cause_key, created_at,
                                      read_at, read_by, resolved_at, resolution)
          SELECT t.alert_type, t.severity, t.title, t.message, t.entity_type, t.entity_id, $2 || ':' || a, raised,
                 CASE WHEN chance * 10 % 1 < 0.8 THEN raised + interval '3 hours' END,
                 CASE WHEN chance * 10 % 1 < 0.8 THEN 'operator' END,
                 CASE WHEN raised < now() - interval '2 days' AND chance * 100 % 1 < 0.97
                      THEN raised + (1 + chance * 1000 % 40)::float8 * interval '1 hour' END,
                 CASE WHEN raised < now() - interval '2 days' AND chance * 100 % 1 < 0.97 THEN 'cause gone' END
            FROM planned
           CROSS JOIN LATERAL (SELECT
                 CASE WHEN chance < 0.7 THEN 'EXPIRING_SOON' WHEN chance < 0.78 THEN 'EXPIRING_SOON'
                      WHEN chance < 0.93 THEN 'ERROR' ELSE 'WARN' END AS alert_type,
                 CASE WHEN chance < 0.7 THEN 'WARN' WHEN chance < 0.93 THEN 'ERROR' ELSE 'WARN' END AS severity,
                 CASE WHEN chance < 0.78 THEN 'Certificate app' || a || '.example.com expires in ' || (1 + a % 30) || ' days'
                      WHEN chance < 0.93 THEN 'Job ' || (100000 + a) || ' failed'
                      ELSE 'Agent edge-' || a % 12 || ' is offline' END AS title,
                 'sample alert' AS message,
                 CASE WHEN chance < 0.78 THEN 'CERTIFICATE' WHEN chance < 0.93 THEN 'JOB' ELSE 'AGENT' END AS entity_type,
                 CASE WHEN chance < 0.78 THEN md5('cert' || a)::uuid::text WHEN chance < 0.93 THEN (100000 + a)::text
                      ELSE 'edge-' || a % 12 END AS entity_id) t
           ORDER BY raised
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM inserted
        """
}
