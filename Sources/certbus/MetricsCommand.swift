import CertbusArguments
import CertbusBus
import CertbusMetrics
import CertbusServices
import Foundation

/// `certbus metrics`: the database-derived Prometheus series, printed once; and the
/// `--metrics-listen` option that serve, scheduler and worker share.
enum MetricsCommand {
    /// `--metrics-listen [HOST:]PORT` of serve, scheduler and worker.
    static let listen = Option<String>(
        "metrics-listen", valueName: "[host:]port",
        help: "Serve Prometheus metrics at http://HOST:PORT/metrics (PORT or :PORT alone: 127.0.0.1; off by default).")

    static let command = Command(
        "metrics", abstract: "Print the database-derived Prometheus metrics once (what a scrape of 'certbus serve' shows).",
        discussion: """
            Runs certbus.metrics_snapshot() (one cheap query) and prints its series in the Prometheus text \
            format: certificates by status and by days to expiry, the earliest expiry per profile, jobs by kind \
            and status, queue depth and oldest waiting job per kind, unread and open alerts, audit sealing, \
            agents, pending events. Per-process series (worker attempts, durations and failures, in-flight jobs, \
            memory) are not included: scrape the --metrics-listen endpoint of serve or worker for those. \
            With --json: an array of families, each with its name, type, help and samples. See docs/operations.md.
            """,
        options: CommandContext.options
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect(applicationName: "certbus-metrics")
        defer { connection.close() }
        let (families, problems) = try DatabaseMetrics.read(on: connection)
        for problem in problems { invocation.printError("warning: certbus.metrics_snapshot(): \(problem); left out") }
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(families.map(json))))
        } else {
            invocation.output.write(Exposition.render(families))
        }
    }

    /// A family as JSON: `{"name", "type", "help", "samples": [{"labels": {...}, "value"}]}`.
    static func json(_ family: MetricFamily) -> JSONValue {
        .object([
            "name": .string(family.name), "type": .string(family.type.rawValue), "help": .string(family.help),
            "samples": .array(family.samples.map { sample in
                .object([
                    "labels": .object(Dictionary(uniqueKeysWithValues: sample.labels.map { ($0.name, JSONValue.string($0.value)) })),
                    "value": sample.value.isFinite ? .double(sample.value) : .string(Exposition.formatValue(sample.value)),
                ])
            }),
        ])
    }

    /// The `--metrics-listen` address of `invocation`, or nil when not given; a usage error (exit 2) when malformed.
    static func address(_ invocation: Invocation) throws -> MetricsListenAddress? {
        guard let text = invocation[listen] else { return nil }
        do {
            return try MetricsListenAddress.parse(text)
        } catch {
            throw UsageError(error.description)
        }
    }

    /// The endpoint of a service process: this process's `process_*` series, the series of the
    /// workers among `services`, and with `database` the database series.
    static func endpoint(
        _ address: MetricsListenAddress, services: [any CertbusService], database: DatabaseMetricsSource?, log: ServiceLog
    ) -> MetricsEndpoint {
        let workers = services.compactMap { $0 as? Worker }
        return MetricsEndpoint(address: address, log: log) {
            ProcessMetrics.collect() + workers.flatMap { $0.metricFamilies() } + (database?.collect() ?? [])
        }
    }
}
