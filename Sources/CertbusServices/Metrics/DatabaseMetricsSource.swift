import CertbusBus
import CertbusMetrics
import Foundation
import Postgres

/// Reads the database-derived series for a metrics endpoint, on a connection of its own that it
/// opens when needed and drops after a failure. A scrape while the database is unreachable or
/// slow does not fail: it returns `certbus_database_up 0` (and no database series), so the
/// process's own series keep flowing; the next scrape tries again. Thread-safe: concurrent
/// scrapes take turns on the one connection.
public final class DatabaseMetricsSource: @unchecked Sendable {
    private let configuration: ConnectionConfiguration
    private let statementTimeoutMilliseconds: Int
    private let log: ServiceLog
    private let lock = NSLock()
    private var connection: Connection?
    private var reportedProblems = Set<String>()
    private var wasUp = true

    /// A source reading with `configuration` (its connect timeout bounds a scrape while the
    /// server is away); each snapshot may run `statementTimeout` seconds at most.
    public init(configuration: ConnectionConfiguration, statementTimeout: Double = 5, log: ServiceLog = .standardError()) {
        var configuration = configuration.with(applicationName: "certbus-metrics")
        configuration.connectTimeout = min(configuration.connectTimeout, 5)
        self.configuration = configuration
        self.statementTimeoutMilliseconds = max(1, Int(statementTimeout * 1000))
        self.log = log
    }

    /// The database families, plus `certbus_database_up` and `certbus_metrics_snapshot_duration_seconds`.
    public func collect() -> [MetricFamily] {
        lock.lock()
        defer { lock.unlock() }
        let started = DispatchTime.now().uptimeNanoseconds
        var families: [MetricFamily] = []
        var up = 1.0
        do {
            let c = try openConnection()
            let (read, problems) = try DatabaseMetrics.read(on: c)
            families = read
            for problem in problems where reportedProblems.insert(problem).inserted {
                log(.warning, "metrics", "certbus.metrics_snapshot(): \(problem); series left out")
            }
            if !wasUp { log(.info, "metrics", "reading the database series again") }
            wasUp = true
        } catch {
            up = 0
            connection?.close()
            connection = nil
            // Once per outage, not once per scrape: certbus_database_up says the rest.
            if wasUp { log(.warning, "metrics", "reading the database series failed (certbus_database_up is 0 until it works again): \(error)") }
            wasUp = false
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        return [
            .gauge("certbus_database_up", help: "1 when this scrape read the database series, 0 when the database could not be read.", [([], up)]),
            .gauge("certbus_metrics_snapshot_duration_seconds", help: "Seconds this scrape spent reading the database series (certbus.metrics_snapshot()).", [([], seconds)]),
        ] + families
    }

    /// Closes the connection (a later `collect` opens a new one).
    public func close() {
        lock.withLock {
            connection?.close()
            connection = nil
        }
    }

    private func openConnection() throws -> Connection {
        if let connection, connection.isOpen { return connection }
        connection?.close()
        let c = try Connection(configuration: configuration)
        do {
            try c.execute("SET statement_timeout = \(statementTimeoutMilliseconds)")
            try c.execute("SET default_transaction_read_only = on")
        } catch {
            c.close()
            throw error
        }
        connection = c
        return c
    }
}
