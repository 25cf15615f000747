import CertbusBus
import Postgres

/// Keeps `certbus.certificate_tallies` small: folds the shards of past expiry days and of the
/// inactive statuses into one row each and drops groups that fell to zero
/// (`certbus.compact_certificate_tallies()`, sql/091). Hourly by default. The tallies stay exact
/// without it; it only bounds how many rows a metrics scrape sums.
public struct TallyCompactionTask: PeriodicTask {
    public let name = "metrics-tallies"
    /// Seconds between runs.
    public var interval: Double

    public init(interval: Double = 3600) {
        self.interval = interval
    }

    /// Compacts; returns e.g. "removed 42 tally rows".
    public func run(_ connection: Connection) throws -> String {
        let removed: Int = try connection.withTransaction { c in
            try c.query("SELECT certbus.compact_certificate_tallies() AS n")[0].decode("n")
        }
        return "removed \(removed) tally rows"
    }
}
