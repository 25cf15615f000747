import CertbusCore
import Foundation
import Postgres

/// What one rescue pass did.
public struct RescueSummary: Sendable, Equatable {
    /// Jobs put back to QUEUED (attempt counted, run after a backoff).
    public var requeued = 0
    /// Jobs that had spent their attempts and ended FAILED.
    public var failed = 0
    /// Jobs an operator had asked to cancel, ended CANCELLED.
    public var cancelled = 0

    public init(requeued: Int = 0, failed: Int = 0, cancelled: Int = 0) {
        self.requeued = requeued
        self.failed = failed
        self.cancelled = cancelled
    }

    /// All jobs taken back.
    public var total: Int { requeued + failed + cancelled }
}

extension JobQueue {
    /// Takes back up to `limit` RUNNING jobs whose lease expired (database clock): their
    /// worker died, lost the database, or overran the kind's maximum run time. Each expired
    /// attempt counts: the job is requeued after a backoff, or ends FAILED when it has no
    /// attempts left (CANCELLED when a cancel was requested), and a LEASE_EXPIRED attempt row
    /// is written. Safe to run from several processes at once (`SKIP LOCKED`).
    public static func rescueExpired(on connection: Connection, backoff: Backoff, limit: Int = 1000) throws -> RescueSummary {
        let rows = try connection.query(
            """
            SELECT status, count(*) AS n FROM certbus.rescue_expired_jobs($1::int, $2::float8, $3::float8, $4::float8)
             GROUP BY status
            """,
            [limit, backoff.base, backoff.maximum, backoff.jitter])
        var summary = RescueSummary()
        for row in rows {
            let n = try row.decode("n", as: Int.self)
            switch try row.decode("status", as: String.self) {
            case "QUEUED": summary.requeued = n
            case "FAILED": summary.failed = n
            default: summary.cancelled = n
            }
        }
        return summary
    }
}
