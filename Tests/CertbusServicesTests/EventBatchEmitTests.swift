import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// certbus.emit_events (sql/046): many events of one type in one statement, the same rows (profile
/// and group filled from the payload or the certificate) and the same refusals as emit_event.
///
/// Database: each test's own TestDatabase (template copy on the shared test cluster), dropped at the end.
@Suite struct EventBatchEmitTests {
    @Test func emitsTheSameEventsAsOneByOneInArrayOrder() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let ca = try f.insertCA()
        let profile = try f.insertProfile(name: "web", caId: ca)
        let group = try f.insertGroup(name: "shop")
        let certificate = try f.insertCertificate(caId: ca, profileId: profile, groupId: group, notAfter: daysFromNow(30))
        let otherProfile = try f.insertProfile(name: "other", caId: ca)
        let payloads: [(String, String)] = [
            (certificate.uuidString.lowercased(), #"{"action": "ISSUE", "outcome": "SUCCESS"}"#),  // profile from the certificate
            (certificate.uuidString.lowercased(), #"{"action": "ISSUE", "profile_id": "\#(otherProfile.uuidString.lowercased())"}"#),
            ("req-1", #"{"action": "ISSUE", "outcome": "FAILURE"}"#),  // not a certificate id
            (UUID().uuidString.lowercased(), #"{"action": "ISSUE"}"#),  // no such certificate
        ]
        try c.execute("DELETE FROM certbus.events")
        let single = try c.withTransaction { tx in
            try payloads.map {
                try tx.query("SELECT certbus.emit_event('CERTIFICATE_ACTION_PERFORMED', 'CERTIFICATE', $1, $2::jsonb) AS id", [$0.0, $0.1])[0]
                    .decode("id", as: Int64.self)
            }
        }
        let batch = try c.withTransaction { tx in
            try tx.query("SELECT id FROM certbus.emit_events('CERTIFICATE_ACTION_PERFORMED', 'CERTIFICATE', $1::text[], $2::jsonb[]) AS id",
                         [payloads.map(\.0), payloads.map { PostgresJSON(text: $0.1) }]).map { try $0.decode("id", as: Int64.self) }
        }
        #expect(batch == batch.sorted())
        func described(_ ids: [Int64]) throws -> [String] {
            try ids.map { id in
                let r = try c.query(
                    "SELECT event_type || '|' || resource || '|' || resource_id || '|' || payload::text || '|' || coalesce(profile_id::text, '-') || '|' || coalesce(group_id::text, '-') || '|' || dispatch_state AS d FROM certbus.events WHERE id = $1",
                    [id])[0]
                return try r.decode("d", as: String.self)
            }
        }
        #expect(try described(batch) == described(single))
        #expect(try described(batch)[0].contains(profile.uuidString.lowercased()))
        #expect(try described(batch)[0].contains(group.uuidString.lowercased()))
        #expect(try described(batch)[1].contains(otherProfile.uuidString.lowercased()))
    }

    @Test func refusesWhatEmitEventRefuses() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let sql = "SELECT certbus.emit_events($1, $2, $3::text[], $4::jsonb[])"
        for (type, resource, payload) in [("NO_SUCH_EVENT", "CERTIFICATE", "{}"), ("CERTIFICATE_ACTION_PERFORMED", "DISCOVERY", "{}"),
                                          ("CERTIFICATE_ACTION_PERFORMED", "CERTIFICATE", "[1]")] {
            do {
                _ = try c.query(sql, [type, resource, ["x", "y"], [PostgresJSON(text: "{}"), PostgresJSON(text: payload)]])
                Issue.record("\(type) \(resource) \(payload) was accepted")
            } catch let error as PostgresError {
                #expect(error.sqlState == "22023", "\(error)")
            }
        }
        #expect(throws: PostgresError.self) { try c.query(sql, ["CERTIFICATE_ACTION_PERFORMED", "CERTIFICATE", ["x", "y"], [PostgresJSON(text: "{}")]]) }
        #expect(try c.query("SELECT count(*) AS n FROM certbus.events")[0].decode("n", as: Int.self) == 0)
    }
}
