import CertbusMetrics
import Foundation
import Postgres

/// The database-derived series: global state of the deployment (certificates, jobs, queue,
/// alerts, audit sealing, agents, events), read with one query of `certbus.metrics_snapshot()`
/// (sql/092). The same for every process that reads it.
public enum DatabaseMetrics {
    /// The statement run on every scrape.
    public static let snapshotSQL =
        "SELECT metric, metric_type, help, labels::text AS labels, value FROM certbus.metrics_snapshot() ORDER BY ordinal"

    /// Reads the snapshot and groups its rows into families (in the snapshot's order). Rows the
    /// text format cannot carry (an unknown type, a bad name, labels that are not a flat JSON
    /// object) are left out and named in `problems`.
    public static func read(on connection: Connection) throws -> (families: [MetricFamily], problems: [String]) {
        let result = try connection.query(snapshotSQL)
        var rows: [SnapshotRow] = []
        rows.reserveCapacity(result.count)
        for row in result {
            rows.append(SnapshotRow(
                metric: try row.decode("metric"), type: try row.decode("metric_type"), help: try row.decode("help"),
                labels: try row.decode("labels"), value: try row.decode("value")))
        }
        return families(from: rows)
    }

    /// One row of `certbus.metrics_snapshot()`.
    public struct SnapshotRow: Sendable, Equatable {
        public var metric: String
        public var type: String
        public var help: String
        /// The labels as JSON text, e.g. `{"kind": "NOOP", "status": "QUEUED"}`.
        public var labels: String
        public var value: Double

        public init(metric: String, type: String, help: String, labels: String, value: Double) {
            self.metric = metric
            self.type = type
            self.help = help
            self.labels = labels
            self.value = value
        }
    }

    /// Groups rows into families: consecutive rows with the same metric form one family (its
    /// type and help from the first row); labels sorted by name. Returns the problems found.
    public static func families(from rows: [SnapshotRow]) -> (families: [MetricFamily], problems: [String]) {
        var families: [MetricFamily] = []
        var problems: [String] = []
        var skipped = Set<String>()
        for row in rows {
            if skipped.contains(row.metric) { continue }
            guard let type = MetricType(rawValue: row.type), type != .histogram else {
                problems.append("\(row.metric): unsupported metric type '\(row.type)'")
                skipped.insert(row.metric)
                continue
            }
            guard let labels = parseLabels(row.labels) else {
                problems.append("\(row.metric): labels \(row.labels) are not a flat JSON object of strings")
                continue
            }
            let sample = MetricSample(name: row.metric, labels: labels, value: row.value)
            if let last = families.last, last.name == row.metric {
                families[families.count - 1].samples.append(sample)
            } else {
                families.append(MetricFamily(name: row.metric, help: row.help, type: type, samples: [sample]))
            }
        }
        families.removeAll { family in
            guard let problem = family.problem else { return false }
            problems.append(problem)
            return true
        }
        return (families, problems)
    }

    /// `{"a": "x", "b": 2}` → `[a="x", b="2"]` (sorted by name); nil when not a flat object.
    static func parseLabels(_ json: String) -> [MetricLabel]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return nil }
        var labels: [MetricLabel] = []
        for (name, value) in object {
            switch value {
            case let text as String: labels.append(MetricLabel(name, text))
            case let number as NSNumber: labels.append(MetricLabel(name, number.stringValue))
            default: return nil
            }
        }
        return labels.sorted { $0.name < $1.name }
    }
}
