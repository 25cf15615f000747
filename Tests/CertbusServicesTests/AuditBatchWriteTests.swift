import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// certbus.write_audit_batch (sql/025): many audit rows in one statement, the same rows and the
/// same refusals as certbus.write_audit one by one.
///
/// Database: each test's own TestDatabase (template copy on the shared test cluster), dropped at the end.
@Suite struct AuditBatchWriteTests {
    static let rows: [(String, String, String, String, String, String)] = [
        ("ISSUANCE_INITIATED", "CertificateRequest", "r-1", "SYSTEM", "worker", #"{"names": ["a.example"], "keySource": "CSR"}"#),
        ("CSR_SUBMITTED", "CSR", "r-1", "SYSTEM", "worker", #"{"profileId": null}"#),
        ("ISSUANCE_COMPLETED", "Certificate", "c-1", "USER", "alice", #"{"serialNumber": "0a1b"}"#),
        ("CA_CREATED", "CA", "ca-9", "AGENT", "agent-7", "{}"),
    ]

    @Test func writesTheSameRowsAsOneByOneInArrayOrder() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let single = try c.withTransaction { tx in
            try Self.rows.map { row in
                try tx.query("SELECT certbus.write_audit($1, $2, $3, $4, $5, $6::jsonb) AS id", [row.0, row.1, row.2, row.3, row.4, row.5])[0]
                    .decode("id", as: Int64.self)
            }
        }
        let batch = try c.withTransaction { tx in
            try tx.query(
                "SELECT id FROM certbus.write_audit_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[]) AS id",
                [Self.rows.map(\.0), Self.rows.map(\.1), Self.rows.map(\.2), Self.rows.map(\.3), Self.rows.map(\.4), Self.rows.map { PostgresJSON(text: $0.5) }]
            ).map { try $0.decode("id", as: Int64.self) }
        }
        #expect(batch.count == 4)
        #expect(batch == batch.sorted(), "ids ascend in array order: \(batch)")
        func described(_ ids: [Int64]) throws -> [String] {
            try ids.map { id in
                let r = try c.query(
                    "SELECT action, entity_type, entity_id, actor_type, actor_id, details::text AS d, chain_position IS NULL AS unsealed, txid IS NOT NULL AS stamped FROM certbus.audit_log WHERE id = $1",
                    [id])[0]
                return try [r.decode("action", as: String.self), r.decode("entity_type", as: String.self), r.decode("entity_id", as: String.self),
                            r.decode("actor_type", as: String.self), r.decode("actor_id", as: String.self), r.decode("d", as: String.self),
                            String(r.decode("unsealed", as: Bool.self)), String(r.decode("stamped", as: Bool.self))].joined(separator: "|")
            }
        }
        #expect(try described(batch) == described(single))
        // The rows of one batch share their transaction, like rows written one by one in it.
        #expect(try c.query("SELECT count(DISTINCT txid) AS n FROM certbus.audit_log WHERE id = ANY($1)", [batch])[0].decode("n", as: Int.self) == 1)
    }

    @Test func refusesWhatWriteAuditRefusesAndWritesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let sql = "SELECT certbus.write_audit_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])"
        let good = ["CA_CREATED", "CA", "1", "USER", "u"]
        for (index, bad, sqlState) in [(0, "NOT_AN_ACTION", "23514"), (3, "ROBOT", "23514"), (2, "", "23514")] {
            var second = good
            second[index] = bad
            do {
                _ = try c.query(sql, [[good[0], second[0]], [good[1], second[1]], [good[2], second[2]], [good[3], second[3]], [good[4], second[4]],
                                      [PostgresJSON(text: "{}"), PostgresJSON(text: "{}")]])
                Issue.record("\(bad) was accepted")
            } catch let error as PostgresError {
                #expect(error.sqlState == sqlState, "\(error)")
            }
        }
        #expect(throws: PostgresError.self) {
            try c.query(sql, [["CA_CREATED"], ["CA"], ["1"], ["USER"], ["u"], [PostgresJSON(text: #"{"k": "-----BEGIN PRIVATE KEY-----"}"#)]])
        }
        #expect(throws: PostgresError.self) { try c.query(sql, [["CA_CREATED", "CA_CREATED"], ["CA"], ["1"], ["USER"], ["u"], [PostgresJSON(text: "{}")]]) }
        #expect(try c.query("SELECT count(*) AS n FROM certbus.audit_log")[0].decode("n", as: Int.self) == 0)
    }
}
