import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

@testable import CertbusServices

/// Helpers shared by the audit tests.
enum AuditFixture {
    /// Writes `count` committed audit rows, one transaction each; returns their ids.
    @discardableResult
    static func write(_ count: Int, on c: Connection, entity: String = "e") throws -> [Int64] {
        try (0..<count).map { i in
            try AuditTrail.record(
                on: c, action: .configChanged, entityType: .config, entityId: "\(entity)\(i)", actor: .user("tester"),
                details: ["n": i, "note": "row \(i)"])
        }
    }

    /// The log id of the row at a chain position.
    static func id(at position: Int64, on c: Connection) throws -> Int64 {
        try c.query("SELECT id FROM certbus.audit_log WHERE chain_position = $1", [position])[0].decode("id", as: Int64.self)
    }

    /// A superuser session with triggers disabled: how an attacker bypasses them.
    static func tamperer(_ db: TestDatabase) throws -> Connection {
        let c = try db.connect(applicationName: "tamperer")
        try c.execute("SET session_replication_role = replica")
        return c
    }

    static func newKey() throws -> AuditSigningKey {
        try AuditSigningKey(privateKey: PrivateKey.generate(.ed25519))
    }

    /// Seals until no committed row is left unsealed, with small batches, and returns how many it sealed.
    /// Loops because the watermark is cluster-wide: transactions of tests running in parallel on the
    /// shared test cluster (other databases) hold sealing back for a moment.
    @discardableResult
    static func sealAll(on c: Connection, batchSize: Int = 7, seconds: Double = 60) throws -> Int {
        let sealer = AuditSealer(batchSize: batchSize)
        let deadline = Date().addingTimeInterval(seconds)
        var total = try sealer.sealAvailable(on: c)
        while try AuditSealer.unsealedCount(on: c) > 0 {
            guard Date() < deadline else {
                Issue.record("rows still unsealed after \(seconds) s")
                return total
            }
            Thread.sleep(forTimeInterval: 0.02)
            total += try sealer.sealAvailable(on: c)
        }
        return total
    }

    static func count(_ sql: String, on c: Connection, _ parameters: [any PostgresEncodable] = []) throws -> Int64 {
        try c.query(sql, parameters)[0].decode("n", as: Int64.self)
    }
}
