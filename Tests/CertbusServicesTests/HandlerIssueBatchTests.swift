import CertbusBus
import CertbusCore
import Foundation
import PKI
import Postgres
import Testing
@testable import CertbusServices

@Suite(.serialized) struct HandlerIssueBatchTests {
    @Test func aMixedBatchIssuesTheGoodAndRefusesTheBadWithTheSameRecords() throws {
        let f = try CertFixture()
        var payloads: [IssueCertificatePayload] = []
        for i in 0..<5 {
            let (csr, _) = try CertFixture.csr(["batch\(i).example.test"])
            payloads.append(IssueCertificatePayload(profile: "web", csr: csr.pem))
        }
        let (outside, _) = try CertFixture.csr(["www.example.org"])
        payloads.append(IssueCertificatePayload(profile: "web", csr: outside.pem))
        payloads.append(IssueCertificatePayload(profile: "web", csr: "garbage"))
        payloads.append(IssueCertificatePayload(profile: "web", commonName: "generated.example.test"))  // careful path
        let (keyed, _) = try CertFixture.csr(["keyed.example.test"])
        payloads.append(IssueCertificatePayload(profile: "web", csr: keyed.pem, idempotencyKey: "dup"))
        payloads.append(IssueCertificatePayload(profile: "web", csr: keyed.pem, idempotencyKey: "dup"))  // same key: careful path
        let ids = try payloads.map { try f.enqueue(.issueCertificate, payload: $0) }
        let claimed = try JobQueue.claim(on: f.connection, workerId: "batch:1", limit: 100, queues: ["default"], kinds: [.issueCertificate],
                                         leaseSeconds: 60)
        #expect(claimed.count == payloads.count)

        let outcome = try IssueBatch(registry: f.registry).process(claimed, workerId: "batch:1", pool: f.pool)
        #expect(outcome.succeeded == 8)
        #expect(outcome.failed == 2)
        let states = try ids.map { try f.jobState($0) }
        #expect(states.map(\.status) == ["SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS", "SUCCESS", "FAILED", "FAILED", "SUCCESS", "SUCCESS", "SUCCESS"])
        #expect(states[5].error?.contains("www.example.org is outside the domains of profile web") == true)
        #expect(states[6].error?.contains("the CSR cannot be read") == true)
        #expect(states[8].issued == states[9].issued)
        #expect(try f.count("certificates") == 7)
        #expect(try f.count("ca_issued_certificates") == 7)
        #expect(try f.count("certificate_requests", where: "status = 'ISSUED'") == 7)
        // Every issued certificate has its job, request, three audit rows and one event, exactly as the handler writes them.
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_COMPLETED'") == 7)
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_INITIATED'") == 7)
        #expect(try f.count("audit_log", where: "action = 'CSR_SUBMITTED'") == 6)
        #expect(try f.count("audit_log", where: "action = 'CSR_GENERATED'") == 1)
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_FAILED'") == 2)
        #expect(try f.count("events", where: "payload->>'outcome' = 'SUCCESS'") == 7)
        #expect(try f.count("events", where: "payload->>'outcome' = 'FAILURE'") == 2)
        for (index, state) in states.enumerated() where state.status == "SUCCESS" {
            let issuedId = try #require(state.issued, "job \(index)")
            let record = try #require(try CertificateStore.find(idOrFingerprint: issuedId.uuidString, on: f.connection))
            #expect(state.caRequestId == record.serialNumber)
            let certificate = try Certificate(pem: record.certificatePEM!)
            try certificate.verify(issuer: try Certificate(pem: f.intermediate.certificatePEM!))
            #expect(record.renewAt == RenewalWindow().renewalTime(for: record.id, notBefore: record.notBefore, notAfter: record.notAfter))
        }
        #expect(try f.count("events", where: "event_type = 'CERTIFICATE_ACTION_PERFORMED' AND profile_id IS NOT NULL AND payload->>'outcome' = 'SUCCESS'") == 7)
    }

    @Test func aJobLostToTheRescuerIsNotRecorded() throws {
        let f = try CertFixture()
        let (csr, _) = try CertFixture.csr(["lost.example.test"])
        let id = try f.enqueue(.issueCertificate, payload: IssueCertificatePayload(profile: "web", csr: csr.pem))
        let claimed = try JobQueue.claim(on: f.connection, workerId: "batch:1", limit: 10, queues: ["default"], kinds: [.issueCertificate],
                                         leaseSeconds: 60)
        // The lease ran out and another worker took the job over.
        try f.connection.execute("UPDATE certbus.jobs SET locked_by = 'other:2' WHERE id = $1", [id])
        _ = try IssueBatch(registry: f.registry).process(claimed, workerId: "batch:1", pool: f.pool)
        #expect(try f.count("certificates") == 0)
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_COMPLETED'") == 0)
        #expect(try f.jobState(id).status == "RUNNING")
        // The CA remembers what it signed: the other worker's attempt gets the same certificate.
        #expect(try f.count("ca_issued_certificates") == 1)
        try f.connection.execute("UPDATE certbus.jobs SET status = 'QUEUED', locked_by = NULL WHERE id = $1", [id])
        let again = try f.finish(f.issue, try f.claim(.issueCertificate)).get()
        #expect(try f.count("ca_issued_certificates") == 1)
        #expect(try CertificateStore.find(idOrFingerprint: again.issuedCertificateId!.uuidString, on: f.connection)?.serialNumber
                == f.connection.query("SELECT serial_number FROM certbus.ca_issued_certificates").firstRow!.decode("serial_number", as: String.self))
    }

    @Test func theGeneralWorkerIssuesInBatches() throws {
        let f = try CertFixture()
        for i in 0..<30 {
            let (csr, _) = try CertFixture.csr(["w\(i).example.test"])
            _ = try f.enqueue(.issueCertificate, payload: IssueCertificatePayload(profile: "web", csr: csr.pem))
        }
        var options = WorkerOptions()
        options.concurrency = 2
        options.pollInterval = 0.05
        options.runsMaintenance = false
        let worker = try Worker(configuration: f.db.configuration(),
                                handlers: HandlerRegistry([IssueCertificateHandler(registry: f.registry, maximumBatchSize: 7)]),
                                options: options, log: ServiceLog(minimumLevel: .error) { _, _, _ in })
        try worker.start()
        let deadline = Date().addingTimeInterval(60)
        while try f.count("jobs", where: "status = 'SUCCESS'") < 30, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        worker.stop(grace: 5)
        #expect(try f.count("jobs", where: "status = 'SUCCESS'") == 30)
        #expect(try f.count("certificates") == 30)
        // In batches: far fewer claims than jobs, every result recorded by the batches themselves.
        let statistics = worker.statistics
        #expect(statistics.succeeded == 30)
        #expect(statistics.claims < 30)
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_COMPLETED'") == 30)
        #expect(try f.count("events", where: "payload->>'outcome' = 'SUCCESS'") == 30)
    }
}

@Suite(.serialized) struct HandlerIssueBatchParityTests {
    @Test func theBatchPathWritesTheSameAuditRowsAndEventsAsTheHandler() throws {
        let f = try CertFixture()
        let (one, _) = try CertFixture.csr(["one.example.test"])
        _ = try f.process(f.issue, payload: IssueCertificatePayload(profile: "web", csr: one.pem)).1.get()
        let (two, _) = try CertFixture.csr(["two.example.test"])
        _ = try f.enqueue(.issueCertificate, payload: IssueCertificatePayload(profile: "web", csr: two.pem))
        let claimed = try JobQueue.claim(on: f.connection, workerId: "batch:1", limit: 10, queues: ["default"], kinds: [.issueCertificate],
                                         leaseSeconds: 60)
        _ = try IssueBatch(registry: f.registry).process(claimed, workerId: "batch:1", pool: f.pool)

        func shape(_ json: String) throws -> [String: String] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            return object.mapValues { value in
                switch value {
                case is NSNull: return "null"
                case let text as String where UUID(uuidString: text) != nil: return text == text.lowercased() ? "uuid" : "UUID"
                case let text as String where text.hasSuffix("Z") && text.count == 27: return "timestamp"
                case is String: return "string"
                case is [Any]: return "array"
                default: return "number"
                }
            }
        }
        for action in ["ISSUANCE_INITIATED", "CSR_SUBMITTED", "ISSUANCE_COMPLETED"] {
            let rows = try f.connection.query(
                "SELECT entity_type, details::text AS details FROM certbus.audit_log WHERE action = $1 ORDER BY id", [action])
            #expect(rows.count == 2)
            #expect(try rows[0].decode("entity_type", as: String.self) == rows[1].decode("entity_type", as: String.self))
            #expect(try shape(rows[0].decode("details")) == shape(rows[1].decode("details")), "\(action)")
        }
        let events = try f.connection.query(
            "SELECT payload::text AS payload, profile_id FROM certbus.events WHERE event_type = 'CERTIFICATE_ACTION_PERFORMED' ORDER BY id")
        #expect(events.count == 2)
        let first: String = try events[0].decode("payload"), second: String = try events[1].decode("payload")
        #expect(try shape(first) == shape(second), "\(first) vs \(second)")
        #expect(try events[0].decode("profile_id", as: UUID.self) == events[1].decode("profile_id", as: UUID.self))
    }
}
