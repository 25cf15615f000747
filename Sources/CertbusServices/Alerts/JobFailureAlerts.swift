import CertbusCore
import Foundation
import Postgres

/// The job part of the alert generator. It scans `certbus.jobs` (state, not events), so failures that happened
/// while it was down are still alerted:
///
/// - a FAILED job (finished within `windowDays`) raises one ERROR alert `job:<id>` about the JOB; it resolves
///   when the job succeeds after an operator's retry ("job succeeded on retry");
/// - a FAILED RENEW_CERT job of a certificate raises instead one ERROR alert `renewal-failed:<certificate id>`
///   about the CERTIFICATE (the cause key the RENEW_CERT handler uses too, so they never duplicate), unless the
///   certificate already has a valid successor or a later renewal succeeded; it resolves when a later RENEW_CERT
///   of that certificate succeeds or a valid successor exists (see `ExpiryAlerts`).
public struct JobFailureAlerts: Sendable {
    /// How far back FAILED jobs are looked at.
    public var windowDays: Int

    public init(windowDays: Int = 7) {
        self.windowDays = windowDays
    }

    /// Runs one pass in one transaction.
    public func run(on connection: Connection) throws -> AlertScanSummary {
        try connection.withTransaction { tx in
            var summary = AlertScanSummary()
            summary.resolved += try tx.query(Self.resolveSucceededJobs)[0].decode("n", as: Int.self)
            summary.resolved += try tx.query(Self.resolveRenewed)[0].decode("n", as: Int.self)
            summary.raised += try tx.query(Self.raiseFailedJobs, [windowDays])[0].decode("n", as: Int.self)
            summary.raised += try tx.query(Self.raiseRenewalFailures, [windowDays])[0].decode("n", as: Int.self)
            return summary
        }
    }

    static let raiseFailedJobs = """
        WITH raised AS (
          INSERT INTO certbus.alerts (alert_type, severity, title, message, entity_type, entity_id, cause_key)
          SELECT 'ERROR', 'ERROR', left('Job ' || j.id || ' (' || j.kind || ') failed: ' || j.name, 300),
                 'Job ' || j.id || ' "' || j.name || '" (' || j.kind || ') failed after ' || j.attempt || ' of '
                   || j.max_attempts || ' attempts at ' || certbus.json_time(j.completed_at) || ': '
                   || coalesce(j.error, 'no error message') || '. Inspect it with certbus jobs show ' || j.id
                   || ' and retry with certbus jobs retry ' || j.id || '.',
                 'JOB', j.id::text, 'job:' || j.id
            FROM certbus.jobs j
           WHERE j.status = 'FAILED' AND j.completed_at > now() - $1 * interval '1 day'
             AND NOT (j.kind = 'RENEW_CERT' AND j.certificate_id IS NOT NULL)
          ON CONFLICT (cause_key) WHERE resolved_at IS NULL DO NOTHING
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM raised
        """

    static let raiseRenewalFailures = """
        WITH failed AS (
          SELECT DISTINCT ON (j.certificate_id) j.*, coalesce(c.common_name, c.subject) AS certificate_name
            FROM certbus.jobs j JOIN certbus.certificates c ON c.id = j.certificate_id
           WHERE j.kind = 'RENEW_CERT' AND j.status = 'FAILED' AND j.completed_at > now() - $1 * interval '1 day'
             AND c.status <> 'REVOKED'
             AND NOT EXISTS (SELECT 1 FROM certbus.certificates r
                              WHERE r.predecessor_id = c.id AND r.status IN ('VALID', 'EXPIRING') AND r.not_after > now())
             AND NOT EXISTS (SELECT 1 FROM certbus.jobs k
                              WHERE k.kind = 'RENEW_CERT' AND k.certificate_id = j.certificate_id AND k.status = 'SUCCESS'
                                AND k.completed_at > j.completed_at)
           ORDER BY j.certificate_id, j.completed_at DESC
        ), raised AS (
          INSERT INTO certbus.alerts (alert_type, severity, title, message, entity_type, entity_id, cause_key)
          SELECT 'ERROR', 'ERROR', left('Renewal of certificate ' || certificate_name || ' failed', 300),
                 'Renewal job ' || id || ' of certificate ' || certificate_name || ' failed after ' || attempt
                   || ' attempts: ' || coalesce(error, 'no error message')
                   || '. The alert resolves itself once a renewal succeeds.',
                 'CERTIFICATE', certificate_id::text, 'renewal-failed:' || certificate_id::text
            FROM failed
          ON CONFLICT (cause_key) WHERE resolved_at IS NULL DO NOTHING
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM raised
        """

    static let resolveSucceededJobs = """
        WITH resolved AS (
          UPDATE certbus.alerts a SET resolved_at = now(), resolution = 'job succeeded on retry'
            FROM certbus.jobs j
           WHERE a.resolved_at IS NULL AND a.cause_key >= 'job:' AND a.cause_key < 'job;'
             AND j.id = CASE WHEN a.cause_key ~ '^job:[0-9]{1,18}$' THEN substr(a.cause_key, 5)::bigint END
             AND j.status = 'SUCCESS'
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM resolved
        """

    static let resolveRenewed = """
        WITH resolved AS (
          UPDATE certbus.alerts a SET resolved_at = now(), resolution = 'renewal succeeded'
           WHERE a.resolved_at IS NULL AND a.cause_key >= 'renewal-failed:' AND a.cause_key < 'renewal-failed;'
             AND EXISTS (SELECT 1 FROM certbus.jobs k
                          WHERE k.kind = 'RENEW_CERT' AND k.status = 'SUCCESS' AND k.completed_at > a.created_at
                            AND k.certificate_id = CASE WHEN a.entity_id ~ \(ExpiryAlerts.uuidPattern)
                                                        THEN a.entity_id::uuid END)
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM resolved
        """
}
