import CertbusCore
import Foundation
import Postgres

/// What one alert-generator pass did.
public struct AlertScanSummary: Sendable, Equatable, CustomStringConvertible {
    /// New alerts raised.
    public var raised = 0
    /// Open alerts resolved because their cause is gone.
    public var resolved = 0

    public init(raised: Int = 0, resolved: Int = 0) {
        self.raised = raised
        self.resolved = resolved
    }

    public static func + (a: AlertScanSummary, b: AlertScanSummary) -> AlertScanSummary {
        AlertScanSummary(raised: a.raised + b.raised, resolved: a.resolved + b.resolved)
    }

    public var description: String { "\(raised) alerts raised, \(resolved) resolved" }
}

/// The expiry part of the alert generator. It reads state, not events, so nothing is lost while it was down:
///
/// - each certificate inside its expiry ladder without a valid replacement has one open EXPIRING_SOON alert
///   for the step it has reached (`expiry:<id>:<n>d`; WARN, ERROR on the last step of a multi-step ladder);
///   a certificate past not_after (within `expiredWindowDays`) has an ERROR alert `expiry:<id>:expired`;
/// - an open alert for an earlier step is resolved ("superseded by 7d") when the next step's alert is raised;
/// - every open alert about a certificate is resolved once it has a valid successor ("valid successor issued"),
///   and expiry alerts of revoked or deleted certificates are resolved too.
///
/// Exactly once under repeated or concurrent runs: inserts go through the partial unique index on open
/// cause keys (`ON CONFLICT DO NOTHING`).
public struct ExpiryAlerts: Sendable {
    /// How long after not_after an unreplaced expired certificate still gets its ERROR alert raised.
    public var expiredWindowDays: Int

    public init(expiredWindowDays: Int = 30) {
        self.expiredWindowDays = expiredWindowDays
    }

    /// Runs one pass in one transaction.
    public func run(on connection: Connection) throws -> AlertScanSummary {
        try connection.withTransaction { tx in
            var summary = AlertScanSummary()
            summary.resolved += try tx.query(Self.resolveReplaced)[0].decode("n", as: Int.self)
            let row = try tx.query(Self.sync, [expiredWindowDays])[0]
            summary.raised += try row.decode("raised", as: Int.self)
            summary.resolved += try row.decode("resolved", as: Int.self)
            return summary
        }
    }

    static let uuidPattern = "'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'"

    /// Any open alert about a certificate that now has a valid successor.
    static let resolveReplaced = """
        WITH resolved AS (
          UPDATE certbus.alerts a SET resolved_at = now(), resolution = 'valid successor issued'
           WHERE a.resolved_at IS NULL AND a.entity_type = 'CERTIFICATE'
             AND EXISTS (SELECT 1 FROM certbus.certificates r
                          WHERE r.predecessor_id = CASE WHEN a.entity_id ~ \(uuidPattern) THEN a.entity_id::uuid END
                            AND r.status IN ('VALID', 'EXPIRING') AND r.not_after > now())
          RETURNING 1
        )
        SELECT count(*)::int AS n FROM resolved
        """

    /// One pass that brings open expiry alerts in line with the certificates ($1 = expired window in days):
    /// `desired` is one cause per certificate inside its ladder without a valid replacement (read from the
    /// not_after index range), `open` the open expiry alerts (read from the cause-key index range). Desired causes
    /// without an open alert are raised; open alerts whose cause is no longer the certificate's current one are
    /// resolved, with the reason. Both sides are read once and hash-joined, so the cost grows with the number of
    /// expiring certificates, not with the table.
    static let sync = """
        WITH \(CertificateExpiryScan.laddersCTE), desired AS MATERIALIZED (
          SELECT c.id, coalesce(c.common_name, c.subject) AS name, c.serial_number, c.not_after, s.step,
                 p.name AS profile, cardinality(lt.t) AS steps, -lt.t[cardinality(lt.t)] AS last_step,
                 'expiry:' || c.id::text || ':' || CASE WHEN s.step = 0 THEN 'expired' ELSE s.step::text || 'd' END AS cause
            FROM certbus.certificates c
            LEFT JOIN certbus.ra_profiles p ON p.id = c.profile_id
            \(CertificateExpiryScan.ladderJoin)
           WHERE c.status <> 'REVOKED'
             AND c.not_after > now() - $1 * interval '1 day'
             AND c.not_after <= now() + certbus.expiry_window_days() * interval '1 day'
             AND s.step IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM certbus.certificates r
                              WHERE r.predecessor_id = c.id AND r.status IN ('VALID', 'EXPIRING') AND r.not_after > now())
        ), open AS MATERIALIZED (
          SELECT a.id, a.cause_key, a.entity_id FROM certbus.alerts a
           WHERE a.resolved_at IS NULL AND a.cause_key >= 'expiry:' AND a.cause_key < 'expiry;'
        ), unwanted AS (
          SELECT o.* FROM open o WHERE NOT EXISTS (SELECT 1 FROM desired d WHERE d.cause = o.cause_key)
        ), stale AS (
          SELECT u.id,
                 CASE WHEN c.id IS NULL THEN 'certificate deleted'
                      WHEN c.status = 'REVOKED' THEN 'certificate revoked'
                      WHEN k.key IS NULL THEN 'no longer inside the expiry threshold'
                      ELSE 'superseded by ' || substr(k.key, length('expiry:') + 38) END AS reason
            FROM unwanted u
            LEFT JOIN LATERAL (SELECT * FROM certbus.certificates x
                                WHERE x.id = CASE WHEN u.entity_id ~ \(uuidPattern) THEN u.entity_id::uuid END
                                OFFSET 0) c ON true
            \(CertificateExpiryScan.ladderJoin)
           CROSS JOIN LATERAL (
              SELECT 'expiry:' || c.id::text || ':'
                     || CASE s.step WHEN 0 THEN 'expired' ELSE s.step::text || 'd' END AS key) k
           WHERE c.id IS NULL OR c.status = 'REVOKED' OR k.key IS DISTINCT FROM u.cause_key
        ), resolved AS (
          UPDATE certbus.alerts a SET resolved_at = now(), resolution = st.reason
            FROM stale st WHERE a.id = st.id AND a.resolved_at IS NULL
          RETURNING 1
        ), raised AS (
          INSERT INTO certbus.alerts (alert_type, severity, title, message, entity_type, entity_id, cause_key)
          SELECT CASE WHEN step = 0 THEN 'ERROR' ELSE 'EXPIRING_SOON' END,
                 CASE WHEN step = 0 OR (steps > 1 AND step = last_step) THEN 'ERROR' ELSE 'WARN' END,
                 left(CASE WHEN step = 0 THEN 'Certificate ' || name || ' has expired'
                           ELSE 'Certificate ' || name || ' expires in '
                                || CASE WHEN not_after - now() < interval '1 day'
                                        THEN floor(extract(epoch FROM not_after - now()) / 3600)::int || ' hours'
                                        ELSE floor(extract(epoch FROM not_after - now()) / 86400)::int || ' days' END
                      END, 300),
                 'Certificate ' || name || ' (serial ' || serial_number || coalesce(', profile ' || profile, '')
                   || CASE WHEN step = 0 THEN ') expired at ' ELSE ') expires at ' END
                   || certbus.json_time(not_after)
                   || CASE WHEN step = 0 THEN '' ELSE ' (alert step ' || step || ' days)' END
                   || ' and has no valid replacement. Renew it or issue a replacement; this alert resolves itself '
                   || 'once a valid successor exists.',
                 'CERTIFICATE', d.id::text, d.cause
            FROM desired d
           WHERE NOT EXISTS (SELECT 1 FROM open o WHERE o.cause_key = d.cause)
          ON CONFLICT (cause_key) WHERE resolved_at IS NULL DO NOTHING
          RETURNING 1
        )
        SELECT (SELECT count(*)::int FROM raised) AS raised, (SELECT count(*)::int FROM resolved) AS resolved
        """
}
