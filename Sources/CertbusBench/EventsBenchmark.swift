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

        progress("inserting \(certificates) certificates (lifetimes of 90 and 398 days, expiries spread over the next year)")
        let ca = try c.query("INSERT INTO certbus.certificate_authorities (name, kind) VALUES ('bench-ca', 'BUILT_IN') RETURNING id")[0]
            .decode("id", as: UUID.self)
        try c.execute("INSERT INTO certbus.ra_profiles (name, ca_id) VALUES ('bench-90', $1), ('bench-398', $1)", [ca])
        try c.execute(
            """
            INSERT INTO certbus.certificates (ca_id, profile_id, serial_number, fingerprint_sha256, common_name, subject, issuer,
                                              key_algorithm, not_before, not_after, certificate_pem)
            SELECT $1, CASE WHEN g % 4 = 0 THEN p90.id ELSE p398.id END, to_hex(g), md5(g::text) || md5((-g)::text),
                   'host' || g || '.bench.example', 'CN=host' || g || '.bench.example', 'CN=bench', 'EC-P256',
                   x.not_after - CASE WHEN g % 4 = 0 THEN interval '90 days' ELSE interval '398 days' END, x.not_after, 'PEM'
              FROM generate_series(1, $2) g
             CROSS JOIN (SELECT id FROM certbus.ra_profiles WHERE name = 'bench-90') p90
             CROSS JOIN (SELECT id FROM certbus.ra_profiles WHERE name = 'bench-398') p398
             CROSS JOIN LATERAL (SELECT now() - interval '2 days'
                                        + ((g::bigint * 7919) % 365000) * interval '1 day' / 1000 AS not_after) x
            """, [ca, certificates])
        progress("VACUUM ANALYZE")
        try c.execute("VACUUM ANALYZE certbus.certificates")

        progress("expiry scan, first run")
        var firstSummary = ExpiryScanSummary()
        let firstScan = try BenchClock.time { firstSummary = try CertificateExpiryScan().run(on: c) }
        try c.execute("VACUUM ANALYZE certbus.certificates")
        try c.execute("VACUUM ANALYZE certbus.certificate_expiry_marks")
        progress("expiry scan, steady state")
        var steady: [Double] = []
        var candidates = 0
        for _ in 0..<3 {
            steady.append(try BenchClock.time { candidates = try CertificateExpiryScan().run(on: c).withoutReplacement })
        }
        progress("expiry alerts, first run and steady state")
        let firstAlerts = try BenchClock.time { _ = try ExpiryAlerts().run(on: c) }
        try c.execute("VACUUM ANALYZE certbus.alerts")
        var steadyAlerts: [Double] = []
        for _ in 0..<3 { steadyAlerts.append(try BenchClock.time { _ = try ExpiryAlerts().run(on: c) }) }
        let plan = try c.query(
            "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM (\(CertificateExpiryScan.candidatesSQL)) candidates"
        ).map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")

        return Result(
            untriggeredEventsPerSecond: untriggered, triggeredEventsPerSecond: triggered,
            triggeredEventsPerSecondTwoDispatchers: triggeredTwo, channelEventsPerSecond: channel,
            certificates: certificates, expiringCandidates: candidates, firstScanSeconds: firstScan,
            firstScan: firstSummary.description, steadyScanSeconds: steady.min() ?? 0, firstAlertSeconds: firstAlerts,
            steadyAlertSeconds: steadyAlerts.min() ?? 0, plan: plan, loadAverage: BenchClock.loadAverage())
    }
}
