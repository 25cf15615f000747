import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// The leader-elected task that renews certificates automatically: it enqueues RENEW_CERT for
/// certificates of auto-renew profiles whose `renew_at` has passed (and that are still valid,
/// not revoked and not yet renewed), one job in flight per certificate (unique key
/// `renew:<certificate id>`). Each scheduled certificate's `renew_at` moves forward by the
/// retry backoff at once, so a renewal job that vanishes (or keeps failing) is tried again
/// later — never in a tight loop. Endpoints expecting the certificate move to "Auto renew
/// scheduled"; each scheduling is audited (JOB_ENQUEUED).
public struct RenewalScheduler: PeriodicTask {
    public var name: String { "renewal-scheduler" }
    public let interval: Double
    /// Certificates handled per run at most.
    public let batchSize: Int
    /// The backoff applied to `renew_at` when a renewal is scheduled.
    public let retry: RenewalRetry

    /// A scheduler running every `interval` seconds (default 60).
    public init(interval: Double = 60, batchSize: Int = 500, retry: RenewalRetry = RenewalRetry()) {
        self.interval = interval
        self.batchSize = batchSize
        self.retry = retry
    }

    /// The unique key of the renewal job of a certificate.
    public static func uniqueKey(_ certificate: UUID) -> String { "renew:\(certificate.uuidString.lowercased())" }

    public func run(_ connection: Connection) throws -> String {
        let now = Date()
        let (scheduled, inFlight) = try connection.withTransaction { c -> (Int, Int) in
            let due = try c.query(
                """
                SELECT c.id, c.common_name, c.not_after, c.renewal_failures, c.ca_id
                  FROM certbus.certificates c JOIN certbus.ra_profiles p ON p.id = c.profile_id
                 WHERE c.renew_at <= $1 AND c.status IN ('VALID', 'EXPIRING') AND c.not_after > $1
                   AND p.auto_renew AND p.enabled
                   AND NOT EXISTS (SELECT 1 FROM certbus.certificates s WHERE s.predecessor_id = c.id)
                 ORDER BY c.renew_at
                 LIMIT $2
                 FOR UPDATE OF c SKIP LOCKED
                """, [now, batchSize])
            var scheduled = 0
            var inFlight = 0
            for row in due {
                let id: UUID = try row.decode("id")
                let notAfter: Date = try row.decode("not_after")
                let failures: Int = try row.decode("renewal_failures")
                let name: String = try row.decode("common_name", as: String?.self) ?? id.uuidString.lowercased()
                let jobId = try JobQueue.enqueueIfAbsent(on: c, try NewJob(
                    kind: .renewCertificate, payload: RenewCertificatePayload(certificateId: id),
                    name: "Auto renew \(name)", uniqueKey: Self.uniqueKey(id), triggeredBy: .system(self.name),
                    caId: try row.decode("ca_id"), certificateId: id))
                let next = retry.nextAttempt(afterFailures: failures + 1, now: now, notAfter: notAfter)
                try c.execute(
                    "UPDATE certbus.certificates SET renew_at = $2, renewal_scheduled_at = CASE WHEN $3 THEN $4 ELSE renewal_scheduled_at END WHERE id = $1",
                    [id, next, jobId != nil, now])
                guard let jobId else {
                    inFlight += 1
                    continue
                }
                scheduled += 1
                try Lifecycle.audit(
                    .jobEnqueued, entityType: .job, entityId: String(jobId), actor: .system(self.name),
                    details: ["kind": JobKind.renewCertificate.rawValue, "certificateId": id.uuidString.lowercased(),
                              "status": "Auto renew scheduled", "notAfter": PostgresTimestamp.format(notAfter)], on: c)
                try Self.markEndpoints(certificate: id, jobId: jobId, actor: self.name, on: c)
            }
            return (scheduled, inFlight)
        }
        return "scheduled \(scheduled) renewals" + (inFlight > 0 ? ", \(inFlight) already in flight" : "")
    }

    /// Moves endpoints that expect `certificate` to "Auto renew scheduled" where the automation
    /// workflow allows it (endpoints in other states keep theirs).
    static func markEndpoints(certificate: UUID, jobId: Int64, actor: String, on c: Connection) throws {
        _ = try c.query(
            """
            SELECT certbus.change_endpoint_status(e.id, 'AUTO_RENEW_SCHEDULED', 'SYSTEM', $2,
                   'renewal job ' || $3::bigint::text || ' scheduled for certificate ' || $1::uuid::text, $3::bigint)
              FROM certbus.endpoints e
             WHERE e.expected_certificate_id = $1::uuid
               AND certbus.automation_move_problem(e.automation_status, 'AUTO_RENEW_SCHEDULED', e.kind) IS NULL
            """, [certificate, actor, jobId])
    }
}

/// The leader-elected task that keeps every CA refreshed: enqueues CA_REFRESH for each CA,
/// one in flight per CA (unique key `ca:<id>`).
public struct CARefreshScheduler: PeriodicTask {
    public var name: String { "ca-refresh-scheduler" }
    public let interval: Double

    /// A scheduler running every `interval` seconds (default one hour).
    public init(interval: Double = 3600) {
        self.interval = interval
    }

    public func run(_ connection: Connection) throws -> String {
        let authorities = try connection.query("SELECT id, name FROM certbus.certificate_authorities ORDER BY name")
        var enqueued = 0
        for row in authorities {
            let id: UUID = try row.decode("id")
            let name: String = try row.decode("name")
            if try JobQueue.enqueueIfAbsent(on: connection, try NewJob(
                kind: .refreshCA, payload: RefreshCAPayload(caId: id), name: "Refresh CA \(name)",
                uniqueKey: "ca:\(id.uuidString.lowercased())", triggeredBy: .system(self.name), caId: id)) != nil {
                enqueued += 1
            }
        }
        return "enqueued \(enqueued) CA refreshes for \(authorities.count) CAs"
    }
}

/// The leader-elected task that expires pending approvals past their time.
public struct ApprovalExpiryTask: PeriodicTask {
    public var name: String { "approval-expiry" }
    public let interval: Double

    /// A task running every `interval` seconds (default 60).
    public init(interval: Double = 60) {
        self.interval = interval
    }

    public func run(_ connection: Connection) throws -> String {
        var total = 0
        while true {
            let expired = try Approvals.expire(on: connection)
            total += expired
            if expired < 500 { break }
        }
        return "expired \(total) approvals"
    }
}
