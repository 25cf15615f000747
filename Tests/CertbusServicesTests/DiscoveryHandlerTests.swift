import CertbusBus
import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

/// DISCOVERY over loopback targets: real TLS servers, a closed port, duplicates; certificates,
/// findings, events and audit rows; reruns add nothing; bad targets change nothing.
@Suite struct DiscoveryHandlerTests {
    static func job(_ targets: [String], id: Int64 = 5) throws -> Job {
        let payload = try JSONEncoder().encode(DiscoveryHandler.Payload(targets: targets, name: "loopback", timeoutSeconds: 5))
        return Job(id: id, kind: .discoverCertificates, name: "Discover", payload: payload, attempt: 1, maxAttempts: 3,
                   triggeredBy: .user("tester"))
    }

    static func count(_ c: Connection, _ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> Int {
        try c.query(sql, parameters)[0].decode("n")
    }

    @Test func discoversNewCertificatesOnceWithEventsAndAudit() throws {
        let pki = try ValidationPKI()
        let a = try pki.leaf(["a.example.test"])
        let b = try pki.leaf(["b.example.test"])
        let serverA = try ValidationTLSServer(certificate: a.certificate, key: a.key, chain: pki.servedChain)
        let serverB = try ValidationTLSServer(certificate: b.certificate, key: b.key, chain: [])
        let refusing = try LoopbackPort.refusing()
        defer { refusing.release() }
        let closed = refusing.port
        let db = try TestDatabase.create()
        defer { db.drop() }
        let pool = db.pool()
        defer { pool.close() }
        let c = try db.connect()
        defer { c.close() }
        let targets = ["127.0.0.1:\(serverA.port)", "localhost:\(serverA.port)", "127.0.0.1:\(serverB.port)", "127.0.0.1:\(closed)"]

        guard case .success(let completion) = try ValidationHandlerTests.attempt(DiscoveryHandler(), Self.job(targets), pool: pool) else {
            Issue.record("discovery failed")
            return
        }
        #expect(completion.output?.contains("\"certificates_found\":2") == true)
        let discovered = try c.query(
            "SELECT fingerprint_sha256, source, common_name, chain_pem FROM certbus.certificates ORDER BY common_name")
        #expect(try discovered.map { try $0.decode("common_name", as: String.self) } == ["a.example.test", "b.example.test"])
        #expect(try discovered.allSatisfy { try $0.decode("source", as: String.self) == "DISCOVERED" })
        #expect(try discovered[0].decode("fingerprint_sha256", as: String.self) == a.certificate.sha256Fingerprint)
        #expect(try discovered[0].decode("chain_pem", as: String.self) == pki.intermediate.certificate.pem)
        let findings = try c.query("SELECT host, outcome, is_new FROM certbus.discovery_findings ORDER BY id").map {
            "\(try $0.decode("host", as: String.self)) \(try $0.decode("outcome", as: String.self)) \(try $0.decode("is_new", as: Bool.self))"
        }
        #expect(findings == [
            "127.0.0.1 CERTIFICATE true", "localhost CERTIFICATE false", "127.0.0.1 CERTIFICATE true", "127.0.0.1 UNREACHABLE false",
        ])
        let run = try c.query(
            "SELECT id, status, targets_probed, targets_reachable, certificates_found, new_certificates, job_id FROM certbus.discovery_runs")[0]
        #expect(try run.decode("status", as: String.self) == "COMPLETED")
        #expect(try run.decode("targets_probed", as: Int.self) == 4)
        #expect(try run.decode("targets_reachable", as: Int.self) == 3)
        #expect(try run.decode("certificates_found", as: Int.self) == 2)
        #expect(try run.decode("new_certificates", as: Int.self) == 2)
        #expect(try run.decode("job_id", as: Int64.self) == 5)
        let runId: UUID = try run.decode("id")
        let events = try c.query("SELECT event_type, resource_id, payload->>'discovery_id' AS d FROM certbus.events ORDER BY id")
        #expect(try events.map { try $0.decode("event_type", as: String.self) }
            == ["CERTIFICATE_DISCOVERED", "CERTIFICATE_DISCOVERED", "DISCOVERY_FINISHED"])
        #expect(try events.allSatisfy { try $0.decode("d", as: String.self) == runId.uuidString.lowercased() })
        #expect(try c.query("SELECT action FROM certbus.audit_log ORDER BY id").map { try $0.decode("action", as: String.self) }
            == ["DISCOVERY_STARTED", "DISCOVERY_COMPLETED"])

        // A second discovery of the same targets finds the same certificates: nothing new.
        guard case .success = try ValidationHandlerTests.attempt(DiscoveryHandler(), Self.job(targets, id: 6), pool: pool) else {
            Issue.record("second discovery failed")
            return
        }
        #expect(try Self.count(c, "SELECT count(*) AS n FROM certbus.certificates") == 2)
        #expect(try Self.count(c, "SELECT count(*) AS n FROM certbus.events WHERE event_type = 'CERTIFICATE_DISCOVERED'") == 2)
        #expect(try Self.count(c, "SELECT count(*) AS n FROM certbus.events WHERE event_type = 'DISCOVERY_FINISHED'") == 2)
        #expect(try Self.count(c, "SELECT count(*) AS n FROM certbus.discovery_runs WHERE new_certificates = 0 AND certificates_found = 2") == 1)
        #expect(try Self.count(c, "SELECT count(*) AS n FROM certbus.certificate_locations") == 3)
    }

    @Test func aRetriedAttemptAbandonsTheDeadRun() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let first = try DiscoveryRecorder.start(jobId: 9, name: "x", targets: ["127.0.0.1:1"], actor: .user("t"), on: c)
        let second = try DiscoveryRecorder.start(jobId: 9, name: "x", targets: ["127.0.0.1:1"], actor: .user("t"), on: c)
        let statuses = try c.query("SELECT id, status FROM certbus.discovery_runs ORDER BY started_at, status").map {
            (try $0.decode("id", as: UUID.self), try $0.decode("status", as: String.self))
        }
        #expect(statuses.first { $0.0 == first }?.1 == "ABANDONED")
        #expect(statuses.first { $0.0 == second }?.1 == "RUNNING")
        // The dead attempt cannot complete its abandoned run.
        #expect(throws: (any Error).self) {
            try c.withTransaction { tx in try DiscoveryRecorder.finish(runId: first, name: "x", findings: [], actor: .user("t"), on: tx) }
        }
    }

    @Test func badTargetsFailPermanentlyBeforeAnythingIsWritten() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let pool = db.pool()
        defer { pool.close() }
        for targets in [["10.0.0.0/8:443"], ["no-port.example.test"], [], ["127.0.0.1:70000"]] {
            let failure = try #require(try ValidationHandlerTests.attempt(DiscoveryHandler(), Self.job(targets), pool: pool).failure)
            #expect(failure.isPermanent)
            #expect(failure.message.contains("invalid discovery target"), "\(failure.message)")
        }
        let c = try db.connect()
        defer { c.close() }
        #expect(try Self.count(c, "SELECT count(*) AS n FROM certbus.discovery_runs") == 0)
        #expect(try Self.count(c, "SELECT count(*) AS n FROM certbus.audit_log") == 0)
    }
}
