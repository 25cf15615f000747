import CertbusBus
import Foundation
import Postgres

/// Periodic task: endpoints that have been "Automation successful" for 24 hours go back to
/// "Configured" (the seed's rule), each with a history row (actor SYSTEM scheduler).
/// Safe to run in several processes at once: rows are taken with `FOR UPDATE SKIP LOCKED`.
public struct AutomationStatusRevertTask: PeriodicTask {
    /// Task name for logs.
    public let name = "automation-status-revert"
    /// Seconds between runs.
    public var interval: Double
    /// How long "Automation successful" stays (24 hours; shorter only in tests).
    public var after: TimeInterval

    public init(interval: Double = 300, after: TimeInterval = 24 * 3600) {
        self.interval = interval
        self.after = after
    }

    /// Reverts every endpoint due, in batches of 1000; returns e.g. "reverted 3 endpoint(s) to Configured".
    public func run(_ connection: Connection) throws -> String {
        var total = 0
        while true {
            let n: Int = try connection.withTransaction { c in
                try c.query(
                    "SELECT certbus.revert_successful_endpoints(make_interval(secs => $1), 1000) AS n", [after]
                )[0].decode("n")
            }
            total += n
            if n < 1000 { break }
        }
        return "reverted \(total) endpoint(s) to Configured"
    }
}
