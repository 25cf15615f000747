import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Event retention: what `certbus.delete_old_events` deletes and keeps, the periodic task's
/// batches, the policy from the environment, and `certbus events prune`.
///
/// Database: each test its own TestDatabase (template copy on the shared test cluster), dropped at the end.
@Suite struct EventRetentionTests {
    /// An event of `daysAgo` days, DISPATCHED unless `pending`; returns its id.
    @discardableResult
    static func insertEvent(_ c: Connection, daysAgo: Double, pending: Bool = false, note: String = "x") throws -> Int64 {
        try c.query(
            """
            INSERT INTO certbus.events (event_type, resource, resource_id, created_at, dispatch_state, dispatched_at)
            VALUES ('SCHEDULED_JOB_FINISHED', 'SCHEDULED_JOB', $1, now() - make_interval(secs => $2::float8),
                    $3, CASE WHEN $3 = 'DISPATCHED' THEN now() END)
            RETURNING id
            """, [note, daysAgo * 86_400, pending ? "PENDING" : "DISPATCHED"]
        )[0].decode("id", as: Int64.self)
    }

    /// Eleven events: seven past a 90-day retention, one old but PENDING, two recent, one old with a
    /// RETRYING trigger run; two of the deletable ones have a finished trigger run or a delivery.
    struct Scene {
        var retrying: Int64
        var withDelivery: Int64
        var kept: Set<Int64>
    }

    static func makeScene(_ c: Connection) throws -> Scene {
        for i in 0..<5 { try insertEvent(c, daysAgo: 100 + Double(i), note: "old-\(i)") }
        let pending = try insertEvent(c, daysAgo: 120, pending: true, note: "pending")
        let recent = [try insertEvent(c, daysAgo: 10, note: "recent"), try insertEvent(c, daysAgo: 89, note: "almost")]
        let retrying = try insertEvent(c, daysAgo: 200, note: "retrying")
        let succeeded = try insertEvent(c, daysAgo: 200, note: "succeeded")
        let withDelivery = try insertEvent(c, daysAgo: 150, note: "delivered")
        let trigger = try c.query(
            """
            INSERT INTO certbus.event_triggers (name, event_type, actions)
            VALUES ('retention-test', 'SCHEDULED_JOB_FINISHED', '[{"type":"RAISE_ALERT","alert_type":"WARN","severity":"WARN"}]')
            RETURNING id
            """)[0].decode("id", as: UUID.self)
        try c.execute(
            """
            INSERT INTO certbus.event_trigger_runs (event_id, trigger_id, status, next_attempt_at, error)
            VALUES ($1, $3, 'RETRYING', now() + interval '1 minute', 'webhook down'), ($2, $3, 'SUCCEEDED', NULL, NULL)
            """, [retrying, succeeded, trigger])
        let profile = try c.query(
            "INSERT INTO certbus.notification_profiles (name, kind, channel) VALUES ('retention-test', 'PG_CHANNEL', 'retention_test') RETURNING id"
        )[0].decode("id", as: UUID.self)
        try c.execute(
            "INSERT INTO certbus.notification_deliveries (profile_id, event_id, trigger_id, status) VALUES ($1, $2, $3, 'DELIVERED')",
            [profile, withDelivery, trigger])
        return Scene(retrying: retrying, withDelivery: withDelivery, kept: Set([pending, retrying] + recent))
    }

    static func eventIds(_ c: Connection) throws -> Set<Int64> {
        Set(try c.query("SELECT id FROM certbus.events").map { try $0.decode("id", as: Int64.self) })
    }

    @Test func deletesOnlyDispatchedEventsPastRetentionWithoutRetryingRuns() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let scene = try Self.makeScene(c)
        let retention = EventRetention(days: 90, batchSize: 2)
        #expect(try retention.countPastRetention(on: c) == 7)

        var totals: [Int] = []
        let deleted = try retention.prune(on: c) { totals.append($0) }
        #expect(deleted == 7)
        #expect(totals == [2, 4, 6, 7])  // batches of 2, one short transaction each
        #expect(try Self.eventIds(c) == scene.kept)
        #expect(try retention.countPastRetention(on: c) == 0)
        // The finished run went with its event; the RETRYING one (and its event) stayed.
        let runs = try c.query("SELECT event_id, status FROM certbus.event_trigger_runs")
        #expect(runs.count == 1)
        #expect(try runs[0].decode("event_id", as: Int64.self) == scene.retrying)
        // The delivery record stays, detached from the deleted event.
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.notification_deliveries WHERE event_id IS NULL")[0]
            .decode("n", as: Int.self) == 1)
        // Nothing left to do.
        #expect(try retention.prune(on: c) == 0)
    }

    @Test func aRunStopsAfterItsBatchBudgetAndTheNextRunContinues() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let scene = try Self.makeScene(c)
        let task = EventRetention(days: 90, batchSize: 2, maximumBatchesPerRun: 2)
        #expect(try task.run(c) == "deleted 4 events older than 90 days")
        #expect(try task.run(c) == "deleted 3 events older than 90 days")
        #expect(try Self.eventIds(c) == scene.kept)
    }

    @Test func refusesRetentionsShorterThanADayAndBadBatchSizes() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try Self.makeScene(c)
        let before = try Self.eventIds(c)
        for (keep, limit) in [(3600.0, 10), (0, 10), (-86_400, 10), (90 * 86_400, 0), (90 * 86_400, 1_000_000)] as [(Double, Int)] {
            let error = try #require(throws: PostgresError.self) {
                try c.query("SELECT certbus.delete_old_events($1::float8, $2::int)", [keep, limit])
            }
            #expect(error.sqlState == "22023")
        }
        let nullKeep = try #require(throws: PostgresError.self) {
            try c.query("SELECT certbus.delete_old_events(NULL, 10)")
        }
        #expect(nullKeep.message.contains("at least one day"))
        #expect(try Self.eventIds(c) == before)
    }

    @Test func policyComesFromTheEnvironment() throws {
        let name = EventRetentionPolicy.environmentVariable
        #expect(try EventRetentionPolicy.from(environment: [:]) == .standard)
        #expect(EventRetentionPolicy.standard.days == 90)
        #expect(try EventRetentionPolicy.from(environment: [name: ""]) == .standard)
        #expect(try EventRetentionPolicy.from(environment: [name: "0"]) == .forever)
        #expect(try EventRetentionPolicy.from(environment: [name: " 30 "]) == EventRetentionPolicy(days: 30))
        for bad in ["abc", "-1", "36501", "7d", "1.5", "90; DROP TABLE certbus.events"] {
            let error = try #require(throws: EventRetentionError.self) { try EventRetentionPolicy.from(environment: [name: bad]) }
            #expect(error.description.contains(name))
        }
    }
}

/// `certbus events prune` end to end (uses AlertCommandTests' runner).
extension AlertCommandTests {
    @Test func eventsPruneCountsDeletesAndRefusesBadInput() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let scene = try EventRetentionTests.makeScene(c)

        let dry = try certbus(["events", "prune", "--dry-run", "--json"], db)
        #expect(dry.status == 0, "\(dry.error)")
        let counted = try JSONSerialization.jsonObject(with: Data(dry.output.utf8)) as? [String: Any]
        #expect(counted?["would_delete"] as? Int == 7)
        #expect(counted?["older_than_days"] as? Int == 90)
        #expect(try EventRetentionTests.eventIds(c).count == 11)

        for (arguments, environment) in [
            (["events", "prune", "--older-than", "0"], [:]),
            (["events", "prune", "--older-than", "x"], [:]),
            (["events", "prune"], [EventRetentionPolicy.environmentVariable: "soon"]),
            (["events", "prune"], [EventRetentionPolicy.environmentVariable: "0"]),
        ] as [([String], [String: String])] {
            let refused = try certbus(arguments, db, environment: environment)
            #expect(refused.status != 0, "\(arguments) \(environment) was accepted")
            #expect(refused.error.contains("error"), "\(refused.error)")
        }
        #expect(try EventRetentionTests.eventIds(c).count == 11)

        // A 150-day retention from the environment deletes only the two deletable events older than that.
        let some = try certbus(["events", "prune"], db, environment: [EventRetentionPolicy.environmentVariable: "150"])
        #expect(some.status == 0, "\(some.error)")
        #expect(some.output.contains("deleted 2 events older than 150 days"))
        let all = try certbus(["events", "prune", "--older-than", "90", "--json"], db)
        #expect(all.status == 0, "\(all.error)")
        let pruned = try JSONSerialization.jsonObject(with: Data(all.output.utf8)) as? [String: Any]
        #expect(pruned?["deleted"] as? Int == 5)
        #expect(try EventRetentionTests.eventIds(c) == scene.kept)
    }
}
