import CertbusMetrics
import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import CertbusServices

/// certbus.metrics_snapshot() and the certificate tallies behind it (sql/091, sql/092), read
/// through `DatabaseMetrics`, rendered, and parsed back with the tests' strict parser.
///
/// Database: each test its own TestDatabase (template copy on the shared test cluster), dropped at the end.
@Suite("Metrics snapshot")
struct MetricsSnapshotTests {
    /// The snapshot rendered and parsed back strictly.
    static func scrape(_ c: Connection) throws -> PrometheusText {
        let (families, problems) = try DatabaseMetrics.read(on: c)
        #expect(problems == [])
        return try PrometheusText(Exposition.render(families))
    }

    @Test func reportsEveryFamilyWithTheFixturesValues() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let fixture = try MetricsFixture.fill(c)
        let text = try Self.scrape(c)

        #expect(text.families.map(\.name) == [
            "certbus_certificates", "certbus_certificates_expiring", "certbus_certificate_earliest_expiry_seconds",
            "certbus_jobs", "certbus_queue_depth", "certbus_queue_oldest_job_age_seconds", "certbus_alerts_unread",
            "certbus_alerts_open", "certbus_audit_unsealed_rows", "certbus_audit_sealed_rows", "certbus_agents",
            "certbus_events_pending",
        ])
        #expect(text.families.allSatisfy { $0.type == "gauge" && !($0.help ?? "").isEmpty })
        for (status, n) in [("VALID", 6.0), ("EXPIRING", 1), ("EXPIRED", 1), ("REVOKED", 1)] {
            #expect(text.value("certbus_certificates", ["status": status]) == n, "\(status)")
        }
        for (days, n) in try MetricsFixture.expectedBuckets(c) {
            #expect(text.value("certbus_certificates_expiring", ["within_days": days]) == n, "within \(days) days")
        }
        // The renewed predecessor of web (1 hour left) does not count; the profile without certificates has no series.
        for (profile, seconds) in fixture.earliest {
            let value = text.value("certbus_certificate_earliest_expiry_seconds", ["profile": profile]) ?? .nan
            #expect(abs(value - seconds) < 60, "\(profile): \(value)")
        }
        #expect(text.value("certbus_certificate_earliest_expiry_seconds", ["profile": "empty"]) == nil)

        for (status, n) in [("QUEUED", 4.0), ("RUNNING", 1), ("FAILED", 1), ("CANCELLED", 1)] {
            #expect(text.value("certbus_jobs", ["kind": "NOOP", "status": status]) == n, "NOOP \(status)")
        }
        #expect(text.value("certbus_jobs", ["kind": "ISSUE_CERT", "status": "FAILED"]) == 1)
        #expect(text.value("certbus_jobs", ["kind": "ISSUE_CERT", "status": "QUEUED"]) == 0)
        #expect(text.family("certbus_jobs")?.samples.contains { $0.labels["status"] == "SUCCESS" } == false)
        let kinds = try c.query("SELECT count(*)::int AS n FROM certbus.job_kinds")[0].decode("n", as: Int.self)
        #expect(text.family("certbus_jobs")?.samples.count == kinds * 4)
        #expect(text.value("certbus_queue_depth", ["kind": "NOOP"]) == 3)
        #expect(text.value("certbus_queue_depth", ["kind": "CA_REFRESH"]) == 0)
        let age = text.value("certbus_queue_oldest_job_age_seconds", ["kind": "NOOP"]) ?? 0
        #expect(age >= 600 && age < 900, "\(age)")
        #expect(text.value("certbus_queue_oldest_job_age_seconds", ["kind": "ISSUE_CERT"]) == 0)

        #expect(text.value("certbus_alerts_unread", ["severity": "ERROR"]) == 1)
        #expect(text.value("certbus_alerts_unread", ["severity": "WARN"]) == 1)
        #expect(text.value("certbus_alerts_open", ["severity": "ERROR"]) == 1)
        #expect(text.value("certbus_alerts_open", ["severity": "WARN"]) == 1)
        for (status, n) in [("ONLINE", 2.0), ("OFFLINE", 1), ("NEVER_SEEN", 1)] {
            #expect(text.value("certbus_agents", ["status": status]) == n, "\(status)")
        }
        let pending = try AuditFixture.count("SELECT count(*) AS n FROM certbus.events WHERE dispatch_state = 'PENDING'", on: c)
        #expect(text.value("certbus_events_pending") == Double(pending))

        // Audit: what the independent count says, then nothing once sealed; no checkpoint yet, so no checkpoint age.
        let unsealed = try AuditSealer.unsealedCount(on: c)
        #expect(unsealed >= 3)
        #expect(text.value("certbus_audit_unsealed_rows") == Double(unsealed))
        #expect(text.value("certbus_audit_sealed_rows") == 0)
        #expect(text.family("certbus_audit_last_seal_age_seconds") == nil)
        #expect(text.family("certbus_audit_last_checkpoint_age_seconds") == nil)
        let sealed = try AuditFixture.sealAll(on: c)
        let after = try Self.scrape(c)
        #expect(after.value("certbus_audit_unsealed_rows") == 0)
        #expect(after.value("certbus_audit_sealed_rows") == Double(sealed))
        let sealAge = after.value("certbus_audit_last_seal_age_seconds") ?? -1
        #expect(sealAge >= 0 && sealAge < 60)
        try AuditCheckpointWriter(key: try AuditFixture.newKey()).writeIfDue(on: c, force: true)
        let checkpointAge = try Self.scrape(c).value("certbus_audit_last_checkpoint_age_seconds") ?? -1
        #expect(checkpointAge >= 0 && checkpointAge < 60)
    }

    @Test func talliesFollowInsertsUpdatesDeletesAndTruncate() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        _ = try MetricsFixture.fill(c)
        func drift() throws -> Int { try c.query("SELECT count(*)::int AS n FROM certbus.certificate_tally_drift()")[0].decode("n") }
        #expect(try drift() == 0)

        // A batch insert in one statement, status changes in bulk (as the expiry scan makes them), a
        // revocation, an update that touches no counted column, a changed expiry, deletes.
        try c.execute(
            """
            INSERT INTO certbus.certificates (ca_id, serial_number, fingerprint_sha256, subject, issuer, key_algorithm,
                                              not_before, not_after, certificate_pem)
            SELECT ca.id, 'b' || g, md5('b' || g) || md5('b' || g || '.'), 'CN=b', 'CN=b', 'EC-P256', now() - interval '1 day',
                   now() + g * interval '1 day', 'PEM'
              FROM generate_series(1, 200) g, (SELECT id FROM certbus.certificate_authorities) ca
            """)
        try c.execute("UPDATE certbus.certificates SET status = 'EXPIRING' WHERE status = 'VALID' AND not_after < now() + interval '30 days'")
        try c.execute("UPDATE certbus.certificates SET status = 'REVOKED', revoked_at = now() WHERE serial_number = 'b150'")
        try c.execute("UPDATE certbus.certificates SET common_name = 'x' WHERE serial_number LIKE 'b1%'")
        try c.execute("UPDATE certbus.certificates SET not_after = not_after + interval '3 days' WHERE serial_number LIKE 'b2%'")
        try c.execute("DELETE FROM certbus.certificates WHERE serial_number IN ('b7', 'b8', 'b150', '08')")
        #expect(try drift() == 0)
        var text = try Self.scrape(c)
        let counted = try c.query("SELECT status, count(*)::float8 AS n FROM certbus.certificates GROUP BY status")
        for row in counted {
            #expect(text.value("certbus_certificates", ["status": try row.decode("status")]) == (try row.decode("n", as: Double.self)))
        }
        for (days, n) in try MetricsFixture.expectedBuckets(c) {
            #expect(text.value("certbus_certificates_expiring", ["within_days": days]) == n, "within \(days) days")
        }

        // A transaction that rolls back leaves the tallies as they were.
        try? c.withTransaction { tx in
            try tx.execute("DELETE FROM certbus.certificates WHERE serial_number LIKE 'b%'")
            throw CancellationError()
        }
        #expect(try drift() == 0)

        // Compaction keeps every sum and leaves at most one row per group of past days. Other sessions'
        // shards are simulated: a group of a past day split over two shards, and one that sums to zero.
        try c.execute(
            """
            INSERT INTO certbus.certificate_tallies AS t (status, expiry_day, shard, certificates) VALUES
              ('REVOKED', '-infinity', 14, 1), ('REVOKED', '-infinity', 15, -1),
              ('VALID', (now() AT TIME ZONE 'UTC')::date - 10, 14, 2), ('VALID', (now() AT TIME ZONE 'UTC')::date - 10, 15, -2)
            ON CONFLICT (status, expiry_day, shard) DO UPDATE SET certificates = t.certificates + EXCLUDED.certificates
            """)
        #expect(try drift() == 0)
        let before = try Self.scrape(c)
        let rowsBefore = try c.query("SELECT count(*)::int AS n FROM certbus.certificate_tallies")[0].decode("n", as: Int.self)
        _ = try c.query("SELECT certbus.compact_certificate_tallies()")
        #expect(try drift() == 0)
        let compacted = try Self.scrape(c)
        #expect(compacted.family("certbus_certificates")?.samples == before.family("certbus_certificates")?.samples)
        #expect(compacted.family("certbus_certificates_expiring")?.samples == before.family("certbus_certificates_expiring")?.samples)
        let rowsAfter = try c.query("SELECT count(*)::int AS n FROM certbus.certificate_tallies")[0].decode("n", as: Int.self)
        #expect(rowsAfter <= rowsBefore)
        let duplicates = try c.query(
            """
            SELECT count(*)::int AS n FROM (SELECT 1 FROM certbus.certificate_tallies
             WHERE expiry_day < (now() AT TIME ZONE 'UTC')::date - 1 GROUP BY status, expiry_day HAVING count(*) > 1) d
            """)[0].decode("n", as: Int.self)
        #expect(duplicates == 0)
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.certificate_tallies WHERE certificates = 0 AND expiry_day < (now() AT TIME ZONE 'UTC')::date - 1")[0].decode("n", as: Int.self) == 0)

        // Rebuilding from scratch agrees; TRUNCATE empties them.
        #expect(try c.query("SELECT certbus.rebuild_certificate_tallies() AS n")[0].decode("n", as: Int64.self) == (try AuditFixture.count("SELECT count(*) AS n FROM certbus.certificates", on: c)))
        try c.execute("TRUNCATE certbus.certificates CASCADE")
        #expect(try drift() == 0)
        text = try Self.scrape(c)
        #expect(text.family("certbus_certificates")?.samples.allSatisfy { $0.value == 0 } == true)
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.certificate_tallies")[0].decode("n", as: Int.self) == 0)
    }

    @Test func concurrentWritersAreAllCountedWithoutDeadlocks() async throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let setup = try db.connect()
        defer { setup.close() }
        try setup.execute("INSERT INTO certbus.certificate_authorities (name, kind) VALUES ('metrics-ca', 'BUILT_IN')")
        // Eight sessions insert and revoke at once, each in transactions of several statements.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for writer in 0..<8 {
                group.addTask {
                    try await Task.detached {
                        let c = try db.connect()
                        defer { c.close() }
                        for round in 0..<10 {
                            try c.withTransaction { tx in
                                for i in 0..<5 {
                                    try MetricsFixture.certificate(
                                        tx, serial: "w\(writer)r\(round)i\(i)", profile: nil, status: "VALID", expiresIn: Double(i) * 86_400 + 3600)
                                }
                                try tx.execute("UPDATE certbus.certificates SET status = 'REVOKED', revoked_at = now() WHERE serial_number = $1", ["w\(writer)r\(round)i0"])
                            }
                        }
                    }.value
                }
            }
            try await group.waitForAll()
        }
        #expect(try setup.query("SELECT count(*)::int AS n FROM certbus.certificate_tally_drift()")[0].decode("n", as: Int.self) == 0)
        let text = try Self.scrape(setup)
        #expect(text.value("certbus_certificates", ["status": "VALID"]) == 320)
        #expect(text.value("certbus_certificates", ["status": "REVOKED"]) == 80)
    }

    @Test func readsIndexesNotHistory() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        _ = try MetricsFixture.fill(c)
        try c.execute("ANALYZE")
        // The plan of the function's statement, as auto_explain reports it from inside the function.
        try c.execute("LOAD 'auto_explain'")
        try c.execute("SET auto_explain.log_min_duration = 0")
        try c.execute("SET auto_explain.log_nested_statements = on")
        try c.execute("SET auto_explain.log_level = notice")
        let notices = NoticeBox()
        c.onNotice = { notices.append($0) }
        _ = try DatabaseMetrics.read(on: c)
        c.onNotice = nil
        let plan = notices.all.first { $0.contains("certificate_tallies") } ?? ""
        #expect(plan.contains("certbus_certificates"), "\(notices.all)")
        // Only tables that hold a handful of rows may be read whole.
        let small: Set<String> = ["certificate_tallies", "job_kinds", "ra_profiles", "agents", "audit_seal_state", "audit_checkpoints"]
        let scanned = plan.split(separator: "\n").compactMap { line -> String? in
            guard let range = line.range(of: "Seq Scan on ") else { return nil }
            return line[range.upperBound...].split(separator: " ").first.map(String.init)
        }
        #expect(scanned.allSatisfy { small.contains($0) }, "sequential scans: \(scanned)\n\(plan)")
    }

    @Test func rowsTheFormatCannotCarryAreLeftOutAndNamed() {
        let rows = [
            DatabaseMetrics.SnapshotRow(metric: "certbus_a", type: "gauge", help: "a", labels: #"{"k": "1"}"#, value: 1),
            DatabaseMetrics.SnapshotRow(metric: "certbus_a", type: "gauge", help: "a", labels: #"{"k": "2"}"#, value: 2),
            DatabaseMetrics.SnapshotRow(metric: "certbus_b", type: "summary", help: "b", labels: "{}", value: 1),
            DatabaseMetrics.SnapshotRow(metric: "certbus_c", type: "gauge", help: "c", labels: #"{"k": [1]}"#, value: 1),
            DatabaseMetrics.SnapshotRow(metric: "bad-name", type: "gauge", help: "d", labels: "{}", value: 1),
            DatabaseMetrics.SnapshotRow(metric: "certbus_e", type: "gauge", help: "e", labels: #"{"b": "x", "a": 3}"#, value: 5),
        ]
        let (families, problems) = DatabaseMetrics.families(from: rows)
        #expect(families.map(\.name) == ["certbus_a", "certbus_e"])
        #expect(families[0].samples.map(\.value) == [1, 2])
        #expect(families[1].samples[0].labels == [MetricLabel("a", "3"), MetricLabel("b", "x")])
        #expect(problems.count == 3)
        #expect(problems.contains { $0.contains("certbus_b") && $0.contains("summary") })
        #expect(problems.contains { $0.contains("certbus_c") })
        #expect(problems.contains { $0.contains("bad-name") })
    }
}

/// Notices collected from a connection's callback thread.
final class NoticeBox: @unchecked Sendable {
    private let lock = NSLock()
    private var notices: [String] = []
    func append(_ notice: String) { lock.withLock { notices.append(notice) } }
    var all: [String] { lock.withLock { notices } }
}
