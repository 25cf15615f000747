import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// certbus.raise_alert / resolve_alerts: one open alert per cause, history kept.
@Suite struct AlertRaiseTests {
    func raise(_ c: Connection, _ key: String, entityId: String = "j-1") throws -> Int64 {
        try Alerts.raise(on: c, type: .error, severity: .error, title: "Job failed", message: "boom",
                         entity: .job, entityId: entityId, causeKey: key)
    }

    func openCount(_ c: Connection) throws -> Int {
        try c.query("SELECT count(*) AS n FROM certbus.alerts WHERE resolved_at IS NULL")[0].decode("n", as: Int.self)
    }

    @Test func raisingTheSameCauseTwiceKeepsOneAlert() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let first = try raise(c, "job:1")
        let second = try raise(c, "job:1")
        #expect(first == second)
        #expect(try openCount(c) == 1)
        #expect(try raise(c, "job:2") != first)
    }

    @Test func resolvedCauseStaysInHistoryAndCanBeRaisedAgain() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let first = try raise(c, "renewal:abc")
        #expect(try Alerts.resolve(on: c, causeKeyPrefix: "renewal:abc", resolution: "valid successor issued") == 1)
        #expect(try Alerts.resolve(on: c, causeKeyPrefix: "renewal:abc") == 0)
        let row = try c.query("SELECT resolved_at IS NOT NULL AS r, resolution FROM certbus.alerts WHERE id = $1", [first])[0]
        #expect(try row.decode("r", as: Bool.self))
        #expect(try row.decode("resolution", as: String.self) == "valid successor issued")
        let again = try raise(c, "renewal:abc")
        #expect(again != first)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.alerts")[0].decode("n", as: Int.self) == 2)
    }

    @Test func resolveByPrefixTouchesOnlyThatPrefix() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        _ = try raise(c, "expiry:c1:30d")
        _ = try raise(c, "expiry:c1:7d")
        _ = try raise(c, "expiry:c10:7d")
        _ = try raise(c, "expiry:c1%:7d")
        #expect(try Alerts.resolve(on: c, causeKeyPrefix: "expiry:c1:") == 2)
        #expect(try openCount(c) == 2)
        #expect(try Alerts.resolve(on: c, causeKeyPrefix: "expiry:c1%") == 1)
    }

    @Test func concurrentRaisesMakeOneAlert() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let errors = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 6) { _ in
            do {
                let c = try db.connect()
                defer { c.close() }
                for i in 0..<20 { _ = try raise(c, "job:\(i)") }
            } catch {
                errors.mutate { $0.append("\(error)") }
            }
        }
        #expect(errors.value == [])
        let c = try db.connect()
        #expect(try openCount(c) == 20)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.alerts")[0].decode("n", as: Int.self) == 20)
    }

    @Test func badInputIsRefused() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        #expect(throws: AlertError.self) { try raise(c, "") }
        #expect(throws: AlertError.self) {
            try Alerts.raise(on: c, type: .error, severity: .warn, title: "t", message: "m", entity: .job,
                             entityId: "1", causeKey: "k")
        }
        #expect(throws: AlertError.self) { try Alerts.resolve(on: c, causeKeyPrefix: "") }
        #expect(throws: PostgresError.self) {
            try c.execute("SELECT certbus.raise_alert('PANIC', 'ERROR', 't', 'm', 'JOB', '1', 'k')")
        }
        #expect(throws: PostgresError.self) {
            try c.execute("SELECT certbus.raise_alert('WARN', 'ERROR', 't', 'm', 'JOB', '1', 'k')")
        }
        #expect(throws: PostgresError.self) {
            try c.execute("SELECT certbus.raise_alert('WARN', 'WARN', 't', 'm', 'PLANET', '1', 'k')")
        }
        #expect(throws: PostgresError.self) { try c.execute("SELECT certbus.resolve_alerts('')") }
        #expect(try c.query("SELECT count(*) AS n FROM certbus.alerts")[0].decode("n", as: Int.self) == 0)
    }
}

/// A value shared between threads in tests.
final class LockedBox<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

/// The hooks other areas call for agents and deployment validation.
@Suite struct AlertHookTests {
    @Test func agentOfflineAndDeploymentHooksRaiseOnceAndClear() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let seen = Date(timeIntervalSince1970: 1_800_000_000)
        let first = try AlertHooks.agentOffline(on: c, agentId: "web-01", lastSeen: seen)
        #expect(try AlertHooks.agentOffline(on: c, agentId: "web-01", lastSeen: seen) == first)
        let alert = try AlertInbox.find(on: c, id: first)
        #expect(alert.type == .warn && alert.entityType == "AGENT" && alert.entityId == "web-01")
        #expect(alert.message.contains("2027-01-15 08:00:00 UTC"))
        #expect(try AlertHooks.agentOnline(on: c, agentId: "web-01") == 1)
        #expect(try AlertHooks.agentOnline(on: c, agentId: "web-01") == 0)
        #expect(try AlertInbox.find(on: c, id: first).resolution == "agent reconnected")

        let deployment = try AlertHooks.deploymentValidationFailed(on: c, endpointId: "ep-1", severity: .error, message: "wrong certificate served")
        #expect(try AlertInbox.find(on: c, id: deployment).severity == .error)
        #expect(try AlertHooks.deploymentValidated(on: c, endpointId: "ep-1") == 1)
        #expect(throws: PostgresError.self) {
            try c.execute("SELECT certbus.alert_deployment_validation('ep-2', 'PANIC', 'x')")
        }
        #expect(throws: AlertError.self) { try AlertHooks.agentOffline(on: c, agentId: "", lastSeen: nil) }
    }
}
