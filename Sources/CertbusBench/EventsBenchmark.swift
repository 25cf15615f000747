import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus bench events`: event dispatch throughput and the expiry scan over many certificates, measured
/// in a scratch database created next to the configured one and dropped after.
public struct EventsBenchmark: Sendable {
    /// Events to dispatch per configuration.
    public var events: Int
    /// Certificates for the expiry scan.
    public var certificates: Int
    /// Events claimed per dispatcher transaction.
    public var batchSize: Int

    public init(events: Int = 20_000, certificates: Int = 1_000_000, batchSize: Int = 500) {
        self.events = events
        self.certificates = certificates
        self.batchSize = batchSize
    }

    /// What was measured.
    public struct Result: Sendable, Encodable {
        /// Dispatch rate with no trigger applying (claim, precedence, mark DISPATCHED), one dispatcher.
        public var untriggeredEventsPerSecond: Double
        /// Dispatch rate with one platform trigger raising one alert per event, one dispatcher.
        public var triggeredEventsPerSecond: Double
        /// The same with two dispatchers running at once.
        public var triggeredEventsPerSecondTwoDispatchers: Double
        /// Dispatch rate with a PG_CHANNEL notification per event (NOTIFY + delivery log row), one dispatcher.
        public var channelEventsPerSecond: Double
        public var certificates: Int
        /// Certificates inside their threshold without replacement.
        public var expiringCandidates: Int
        /// First scan: marks EXPIRING/EXPIRED and emits every event.
        public var firstScanSeconds: Double
        public var firstScan: String
        /// Steady state: a scan that finds nothing new (the hourly run).
        public var steadyScanSeconds: Double
        /// First alert pass (raises one alert per expiring certificate) and a steady-state pass.
        public var firstAlertSeconds: Double
        public var steadyAlertSeconds: Double
        /// EXPLAIN (ANALYZE, BUFFERS) of the scan's candidate query.
        public var plan: String
        public var loadAverage: Double?
    }

    /// Runs everything; `progress` receives one line per phase.
    public func run(connectionString: String, progress: (String) -> Void = { _ in }) throws -> Result {
        guard events > 0, certificates > 0, batchSize > 0 else {
            throw BenchmarkError("events, certificates and batch size must be positive")
        }
        let scratch = try ScratchDatabase(near: connectionString, purpose: "events")
        defer { scratch.drop() }
        let url = scratch.connectionString
        let c = try scratch.migratedConnection(progress: progress)
        defer { c.close() }
        let actor = Actor.system("bench")

        func emit(_ type: EventType, _ n: Int) throws {
            try c.execute(
                """
                INSERT INTO certbus.events (event_type, resource, resource_id, payload)
                SELECT $1, $3, $1 || '-' || g, jsonb_build_object('discovery_id', 'bench-' || g, 'outcome', 'SUCCESS',
                       'certificates_found', g % 50, 'new_certificates', g % 3)
                  FROM generate_series(1, $2) g
                """, [type.rawValue, n, type.resource.rawValue])
            try c.execute("VACUUM ANALYZE certbus.events")
        }
        func drain(dispatchers: Int) throws -> Double {
            let errors = BenchLocked<[String]>([])
            let seconds = BenchClock.time {
                DispatchQueue.concurrentPerform(iterations: dispatchers) { i in
                    do {
                        let conn = try Connection.connect(url, applicationName: "certbus-bench-dispatcher")
                        defer { conn.close() }
                        _ = try EventDispatcher(batchSize: batchSize, identity: "bench-\(i)").drain(on: conn)
                    } catch {
                        errors.update { $0.append("\(error)") }
                    }
                }
            }
            if let first = errors.value.first { throw BenchmarkError("dispatcher failed: \(first)") }
            return seconds
        }

        progress("dispatching \(events) events without triggers")
        try emit(.discoveryFinished, events)
        let untriggered = Double(events) / (try drain(dispatchers: 1))

        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "bench-alert", eventType: .approvalRequested,
            actions: [.raiseAlert(type: .warn, severity: .warn, title: "approval {{discovery_id}}", message: nil, per: .event)]),
            actor: actor)
        progress("dispatching \(events) events with one alert-raising trigger, one dispatcher")
        try emit(.approvalRequested, events)
        let triggered = Double(events) / (try drain(dispatchers: 1))

        progress("dispatching \(events) events with one alert-raising trigger, two dispatchers")
        try c.execute("TRUNCATE certbus.alerts")
        try emit(.approvalRequested, events)
        let triggeredTwo = Double(events) / (try drain(dispatchers: 2))

        let profile = try NotificationProfiles.create(
            on: c, NewNotificationProfile(name: "bench-channel", kind: .pgChannel, channel: "bench_events"),
            keyEncryptionKey: nil, actor: actor)
        _ = try EventTriggers.create(on: c, NewEventTrigger(
            name: "bench-channel", eventType: .approvalClosed, actions: [.notify(profileId: profile.id)]), actor: actor)
        progress("dispatching \(events) events with one PG_CHANNEL notification each")
        try emit(.approvalClosed, events)
        let channel = Double(events) / (try drain(dispatchers: 1))

        let expiry = try ExpiryScanMeasurement(certificates: certificates).run(on: c, progress: progress)

        return Result(
            untriggeredEventsPerSecond: untriggered, triggeredEventsPerSecond: triggered,
            triggeredEventsPerSecondTwoDispatchers: triggeredTwo, channelEventsPerSecond: channel,
            certificates: certificates, expiringCandidates: expiry.candidates, firstScanSeconds: expiry.firstScanSeconds,
            firstScan: expiry.firstScan.description, steadyScanSeconds: expiry.steadyScanSeconds,
            firstAlertSeconds: expiry.firstAlertSeconds, steadyAlertSeconds: expiry.steadyAlertSeconds, plan: expiry.plan,
            loadAverage: BenchClock.loadAverage())
    }
}
