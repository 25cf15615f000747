import CertbusCore
import Foundation
import Postgres

/// What one expiry scan did.
public struct ExpiryScanSummary: Sendable, Equatable, CustomStringConvertible {
    /// Certificates marked EXPIRED (each with a CERTIFICATE_STATUS_CHANGED event).
    public var expired = 0
    /// Certificates marked EXPIRING (each with a CERTIFICATE_STATUS_CHANGED event).
    public var expiring = 0
    /// CERTIFICATE_EXPIRING events emitted.
    public var expiringEvents = 0
    /// Certificates inside their threshold without a valid replacement.
    public var withoutReplacement = 0

    public init(expired: Int = 0, expiring: Int = 0, expiringEvents: Int = 0, withoutReplacement: Int = 0) {
        self.expired = expired
        self.expiring = expiring
        self.expiringEvents = expiringEvents
        self.withoutReplacement = withoutReplacement
    }

    public var description: String {
        "\(withoutReplacement) expiring without replacement, \(expiringEvents) CERTIFICATE_EXPIRING events, "
            + "\(expiring) marked EXPIRING, \(expired) marked EXPIRED"
    }
}

/// The monitoring part of "certificate expiring": updates certificate statuses (VALID → EXPIRING inside the
/// profile's first ladder step, → EXPIRED at not_after, each with CERTIFICATE_STATUS_CHANGED) and emits
/// CERTIFICATE_EXPIRING for certificates inside their threshold that have no valid replacement.
///
/// By default a certificate is announced once per ladder step it reaches (the step is remembered in
/// `certificate_expiry_marks`), so an hourly scan does not repeat the same event every hour; with
/// `announceEveryRun` every such certificate is announced on every run, as the seed's "occurs every hour".
/// Set-based SQL reading only the not_after index range of the largest ladder window; safe to run
/// concurrently (row locks and the marks upsert decide who emits).
public struct CertificateExpiryScan: Sendable {
    /// Emit CERTIFICATE_EXPIRING on every run for every certificate inside its threshold without replacement.
    public var announceEveryRun: Bool

    public init(announceEveryRun: Bool = false) {
        self.announceEveryRun = announceEveryRun
    }

    /// Runs the scan in one transaction on `connection`.
    public func run(on connection: Connection) throws -> ExpiryScanSummary {
        try connection.withTransaction { tx in
            var summary = ExpiryScanSummary()
            summary.expired = try tx.query(Self.markExpired)[0].decode("n", as: Int.self)
            summary.expiring = try tx.query(Self.markExpiring)[0].decode("n", as: Int.self)
            let row = try tx.query(Self.announce, [announceEveryRun])[0]
            summary.withoutReplacement = try row.decode("candidates", as: Int.self)
            summary.expiringEvents = try row.decode("emitted", as: Int.self)
            return summary
        }
    }

    /// VALID/EXPIRING certificates past not_after → EXPIRED, with their status events.
    static let markExpired = """
        WITH target AS (
          SELECT c.id, c.status AS old_status FROM certbus.certificates c
           WHERE c.status IN ('VALID', 'EXPIRING') AND c.not_after <= now()
           FOR UPDATE OF c
        ), changed AS (
          UPDATE certbus.certificates c SET status = 'EXPIRED' FROM target t
           WHERE c.id = t.id RETURNING c.*, t.old_status
        ), emitted AS (
          INSERT INTO certbus.events (event_type, resource, resource_id, payload, profile_id, group_id)
          SELECT 'CERTIFICATE_STATUS_CHANGED', 'CERTIFICATE', ch.id::text,
                 certbus.certificate_event_fields(ch.id, ch.common_name, ch.serial_number, ch.fingerprint_sha256,
                                                  ch.profile_id, ch.group_id, ch.not_after)
                   || jsonb_build_object('old_status', ch.old_status, 'new_status', 'EXPIRED'),
                 ch.profile_id, ch.group_id
            FROM changed ch
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM emitted
        """

    /// The expiry ladder of each row of `certbus.certificates c`, for FROM clauses: joins `ladders` (the CTE
    /// `laddersCTE`) and yields `lt.t` (thresholds) and `s.step` (NULL, 0 = expired, or the step in days). The ladder
    /// functions are single expressions that PostgreSQL inlines, so this costs plain arithmetic per row.
    static let ladderJoin = """
        LEFT JOIN ladders l ON l.profile_id = c.profile_id
          CROSS JOIN LATERAL (SELECT coalesce(l.thresholds, '{-30,-14,-7,-1}'::float8[]) AS t) lt
          CROSS JOIN LATERAL (SELECT certbus.expiry_ladder_position(c.not_before, c.not_after, lt.t, now()) AS step) s
        """

    /// The CTE `ladders` that `ladderJoin` needs: each profile's thresholds, computed once per statement.
    static let laddersCTE = "ladders AS MATERIALIZED (SELECT profile_id, thresholds FROM certbus.profile_expiry_ladders)"

    /// VALID certificates inside the first step of their ladder → EXPIRING, with their status events.
    static let markExpiring = """
        WITH \(laddersCTE), target AS (
          SELECT c.id, c.status AS old_status FROM certbus.certificates c
          \(ladderJoin)
           WHERE c.status = 'VALID' AND c.not_after > now()
             AND c.not_after <= now() + certbus.expiry_window_days() * interval '1 day'
             AND s.step IS NOT NULL
           FOR UPDATE OF c
        ), changed AS (
          UPDATE certbus.certificates c SET status = 'EXPIRING' FROM target t
           WHERE c.id = t.id AND c.status = 'VALID' RETURNING c.*, t.old_status
        ), emitted AS (
          INSERT INTO certbus.events (event_type, resource, resource_id, payload, profile_id, group_id)
          SELECT 'CERTIFICATE_STATUS_CHANGED', 'CERTIFICATE', ch.id::text,
                 certbus.certificate_event_fields(ch.id, ch.common_name, ch.serial_number, ch.fingerprint_sha256,
                                                  ch.profile_id, ch.group_id, ch.not_after)
                   || jsonb_build_object('old_status', ch.old_status, 'new_status', 'EXPIRING'),
                 ch.profile_id, ch.group_id
            FROM changed ch
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM emitted
        """

    /// Certificates inside their threshold, not expired, without a valid successor, with their ladder step and
    /// the threshold in days; reads only the `certificates_active_not_after` index range of the largest window.
    public static let candidatesSQL = """
        WITH \(laddersCTE)
        SELECT c.*, s.step, -lt.t[1] * certbus.expiry_ladder_scale(c.not_before, c.not_after, lt.t) AS threshold_days
          FROM certbus.certificates c
          \(ladderJoin)
         WHERE c.status IN ('VALID', 'EXPIRING') AND c.not_after > now()
           AND c.not_after <= now() + certbus.expiry_window_days() * interval '1 day'
           AND s.step IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM certbus.certificates r
                            WHERE r.predecessor_id = c.id AND r.status IN ('VALID', 'EXPIRING') AND r.not_after > now())
        """

    /// CERTIFICATE_EXPIRING for certificates inside their threshold without a valid successor: those whose ladder
    /// step differs from their mark (or all of them when $1 is true).
    static let announce = """
        WITH candidates AS (
        \(candidatesSQL)
        ), changed AS (
          SELECT ca.id, ca.step FROM candidates ca
            LEFT JOIN certbus.certificate_expiry_marks m ON m.certificate_id = ca.id
           WHERE m.step_days IS DISTINCT FROM ca.step
        ), marked AS (
          INSERT INTO certbus.certificate_expiry_marks AS m (certificate_id, step_days)
          SELECT id, step FROM changed
          ON CONFLICT (certificate_id) DO UPDATE SET step_days = EXCLUDED.step_days, marked_at = now()
           WHERE m.step_days IS DISTINCT FROM EXCLUDED.step_days
          RETURNING certificate_id
        ), emitted AS (
          INSERT INTO certbus.events (event_type, resource, resource_id, payload, profile_id, group_id)
          SELECT 'CERTIFICATE_EXPIRING', 'CERTIFICATE', ca.id::text,
                 certbus.certificate_event_fields(ca.id, ca.common_name, ca.serial_number, ca.fingerprint_sha256,
                                                  ca.profile_id, ca.group_id, ca.not_after)
                   || jsonb_build_object('days_left', floor(extract(epoch FROM ca.not_after - now()) / 86400)::int,
                                         'threshold_days', round(ca.threshold_days::numeric, 3),
                                         'ladder_step_days', ca.step, 'status', ca.status),
                 ca.profile_id, ca.group_id
            FROM candidates ca
           WHERE $1 OR ca.id IN (SELECT certificate_id FROM marked)
          RETURNING 1
        )
        SELECT (SELECT count(*)::int FROM candidates) AS candidates, (SELECT count(*)::int FROM emitted) AS emitted
        """
}
