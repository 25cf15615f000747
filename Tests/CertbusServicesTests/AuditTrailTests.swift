import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Writing audit rows: the shared entry point, the Swift wrapper, and the
/// validation that keeps bad rows (and secrets) out.
@Suite struct AuditTrailTests {
    @Test func recordWritesOneRowInTheCallersTransaction() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try c.withTransaction { tx in
            try AuditTrail.record(
                on: tx, action: .issuanceCompleted, entityType: .certificate, entityId: "abc",
                actor: .system("worker"), details: ["serial": "01", "days": 90])
        }
        let row = try #require(try c.query("SELECT * FROM certbus.audit_log WHERE id = $1", [id]).firstRow)
        #expect(try row.decode("action", as: String.self) == "ISSUANCE_COMPLETED")
        #expect(try row.decode("entity_type", as: String.self) == "Certificate")
        #expect(try row.decode("actor_type", as: String.self) == "SYSTEM")
        #expect(try row.decode("actor_id", as: String.self) == "worker")
        #expect(try row.isNull("chain_position"))
        struct Details: Decodable, Equatable { var serial: String; var days: Int }
        #expect(try row.decodeJSON("details", as: Details.self) == Details(serial: "01", days: 90))
    }

    @Test func rolledBackActionLeavesNoAuditRow() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try c.withTransaction { tx in
                try AuditTrail.record(
                    on: tx, action: .caCreated, entityType: .ca, entityId: "x", actor: .user("alice"))
                throw Boom()
            }
        }
        #expect(try c.query("SELECT count(*) AS n FROM certbus.audit_log")[0].decode("n", as: Int.self) == 0)
    }

    @Test func encodableDetails() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        struct Details: Codable, Equatable { var profile: String; var approvers: [String] }
        let id = try AuditTrail.record(
            on: c, action: .profileUpdated, entityType: .profile, entityId: "web", actor: .user("bob"),
            details: Details(profile: "web", approvers: ["a", "b"]))
        let row = try c.query("SELECT details FROM certbus.audit_log WHERE id = $1", [id])[0]
        #expect(try row.decodeJSON("details", as: Details.self) == Details(profile: "web", approvers: ["a", "b"]))
    }

    @Test func unknownActionIsRejectedAndWritesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let error = #expect(throws: AuditError.self) {
            try AuditTrail.record(on: c, action: "CERT_EATEN", entityType: .certificate, entityId: "1", actor: .user("x"))
        }
        #expect(error?.underlying?.sqlState == "23514")
        #expect(error?.description.contains("unknown audit action 'CERT_EATEN'") == true)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.audit_log")[0].decode("n", as: Int.self) == 0)
    }

    @Test func badEntityAndActorValuesAreRejected() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        #expect(throws: AuditError.self) {
            try AuditTrail.record(on: c, action: .caCreated, entityType: "bad type!", entityId: "1", actor: .user("x"))
        }
        #expect(throws: AuditError.self) {
            try AuditTrail.record(on: c, action: .caCreated, entityType: .ca, entityId: "", actor: .user("x"))
        }
        #expect(throws: AuditError.self) {
            try AuditTrail.record(on: c, action: .caCreated, entityType: .ca, entityId: "1", actor: .user(""))
        }
        let badActor = #expect(throws: PostgresError.self) {
            try c.query("SELECT certbus.write_audit('CA_CREATED', 'CA', '1', 'ROBOT', 'r2')")
        }
        #expect(badActor?.sqlState == "23514")
        let notObject = #expect(throws: PostgresError.self) {
            try c.query("SELECT certbus.write_audit('CA_CREATED', 'CA', '1', 'USER', 'u', '[1,2]')")
        }
        #expect(notObject?.sqlState == "23514")
        #expect(try c.query("SELECT count(*) AS n FROM certbus.audit_log")[0].decode("n", as: Int.self) == 0)
    }

    @Test func secretsAreRefused() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let keyName = #expect(throws: AuditError.self) {
            try AuditTrail.record(
                on: c, action: .csrGenerated, entityType: .csr, entityId: "1", actor: .user("x"),
                details: ["request": ["private_key": "abc"]])
        }
        #expect(keyName?.message.contains("details.request") == true)
        #expect(throws: AuditError.self) {
            try AuditTrail.record(
                on: c, action: .csrGenerated, entityType: .csr, entityId: "1", actor: .user("x"),
                details: ["note": "-----BEGIN PRIVATE KEY-----\nAAA"])
        }
        // The database refuses a PEM private key even from a writer that skips the wrapper.
        let sqlError = #expect(throws: PostgresError.self) {
            try c.query(
                "SELECT certbus.write_audit('CSR_GENERATED', 'CSR', '1', 'USER', 'u', $1::jsonb)",
                [PostgresJSON(text: #"{"k": "-----BEGIN EC PRIVATE KEY-----"}"#)])
        }
        #expect(sqlError?.message.contains("must not contain a private key") == true)
        #expect(try c.query("SELECT count(*) AS n FROM certbus.audit_log")[0].decode("n", as: Int.self) == 0)
    }

    @Test func everyBuiltInActionIsInTheVocabulary() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let stored = Set(try c.query("SELECT action FROM certbus.audit_actions").map { try $0.decode("action", as: String.self) })
        // Other areas' migrations add their own actions; every built-in one must be there.
        #expect(Set(AuditAction.builtIn.map(\.rawValue)).isSubset(of: stored))
    }
}
