import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing
@testable import CertbusServices

@Suite(.serialized) struct HandlerIssueTests {
    @Test func issuesFromACSRWithEverythingInOneCommit() throws {
        let f = try CertFixture()
        let (csr, key) = try CertFixture.csr(["www.example.test", "api.example.test"])
        let (jobId, outcome) = try f.process(f.issue, payload: IssueCertificatePayload(profile: "web", csr: csr.pem))
        let completion = try outcome.get()
        let certificateId = try #require(completion.issuedCertificateId)

        let job = try f.jobState(jobId)
        #expect(job.status == "SUCCESS")
        #expect(job.issued == certificateId)
        let record = try #require(try CertificateStore.find(idOrFingerprint: certificateId.uuidString, on: f.connection))
        #expect(job.caRequestId == record.serialNumber)
        #expect(record.subjectAlternativeNames == ["www.example.test", "api.example.test"])
        #expect(record.commonName == "www.example.test")
        #expect(record.keyAlgorithm == "EC-P256")
        #expect(record.keySize == 256)
        #expect(record.status == "VALID")
        #expect(record.profileName == "web")
        #expect(record.caName == "test-ca")
        #expect(!record.hasServerKey)
        let certificate = try Certificate(pem: try #require(record.certificatePEM))
        #expect(certificate.matches(key))
        #expect(try Certificate.parseChain(pem: record.chainPEM ?? "").count == 2)
        let expected = RenewalWindow().renewalTime(for: certificateId, notBefore: record.notBefore, notAfter: record.notAfter)
        #expect(record.renewAt == expected)

        let requestId = try #require(record.requestId)
        let request = try #require(try CertificateRequestStore.find(id: requestId, on: f.connection))
        #expect(request.status == .issued)
        #expect(request.certificateId == certificateId)
        #expect(request.jobId == jobId)
        let actions = try f.connection.query("SELECT action FROM certbus.audit_log ORDER BY id").map { try $0.decode("action", as: String.self) }
        #expect(actions.suffix(3) == ["ISSUANCE_INITIATED", "CSR_SUBMITTED", "ISSUANCE_COMPLETED"])
        let event = try #require(try f.connection.query(
            "SELECT resource_id, payload->>'outcome' AS outcome, payload->>'action' AS action, profile_id FROM certbus.events WHERE event_type = 'CERTIFICATE_ACTION_PERFORMED'").firstRow)
        #expect(try event.decode("resource_id", as: String.self) == certificateId.uuidString.lowercased())
        #expect(try event.decode("outcome", as: String.self) == "SUCCESS")
        #expect(try event.decode("action", as: String.self) == "ISSUE")
        #expect(try event.decode("profile_id", as: UUID.self) == f.profile.id)
    }

    @Test func serverGeneratedKeysAreSealedAndMatchTheCertificate() throws {
        let f = try CertFixture()
        let (_, outcome) = try f.process(f.issue, payload: IssueCertificatePayload(profile: "web", commonName: "gen.example.test",
                                                                                   subjectAlternativeNames: ["alt.example.test"]))
        let id = try #require(try outcome.get().issuedCertificateId)
        let row = try #require(try f.connection.query(
            "SELECT c.encrypted_private_key, c.request_id, c.certificate_pem, r.encrypted_private_key IS NULL AS cleared FROM certbus.certificates c JOIN certbus.certificate_requests r ON r.id = c.request_id WHERE c.id = $1",
            [id]).firstRow)
        #expect(try row.decode("cleared", as: Bool.self))
        let sealed: Data = try row.decode("encrypted_private_key")
        #expect(!String(decoding: sealed, as: UTF8.self).contains("PRIVATE KEY"))
        let key = try PrivateKey(der: try f.kek.open(sealed, purpose: "certificate-private-key", id: try row.decode("request_id")))
        let certificate = try Certificate(pem: try row.decode("certificate_pem"))
        #expect(certificate.matches(key))
        #expect(certificate.dnsNames == ["gen.example.test", "alt.example.test"])
        #expect(try f.connection.query("SELECT 1 FROM certbus.audit_log WHERE action = 'CSR_GENERATED'").count == 1)
    }

    @Test func aCrashBetweenTheCAsAnswerAndTheCommitDoesNotIssueTwice() throws {
        let f = try CertFixture()
        let (csr, _) = try CertFixture.csr(["crash.example.test"])
        let jobId = try f.enqueue(.issueCertificate, payload: IssueCertificatePayload(profile: "web", csr: csr.pem))
        let first = try f.claim(.issueCertificate)
        // The attempt reaches the CA, then the worker dies before committing.
        let lost = try f.issue.run(first.job, context: JobContext(database: f.pool, workerId: "test:1"))
        #expect(try f.count("certificates") == 0)
        // The lease runs out; the job is claimed again and retried.
        try f.connection.execute("UPDATE certbus.jobs SET status = 'QUEUED', locked_by = NULL, lease_expires_at = NULL WHERE id = $1", [jobId])
        let retry = try f.claim(.issueCertificate)
        #expect(retry.job.attempt == 2)
        let completion = try f.finish(f.issue, retry).get()
        #expect(try f.count("ca_issued_certificates") == 1)
        #expect(try f.count("certificates") == 1)
        #expect(try f.count("certificate_requests") == 1)
        let stored = try CertificateStore.find(idOrFingerprint: completion.issuedCertificateId!.uuidString, on: f.connection)!
        #expect(stored.serialNumber == lost.caRequestId)
        #expect(try f.jobState(jobId).status == "SUCCESS")
    }

    @Test func aRepeatedIdempotencyKeyReturnsTheFirstCertificate() throws {
        let f = try CertFixture()
        let (csr, _) = try CertFixture.csr(["same.example.test"])
        let payload = IssueCertificatePayload(profile: "web", csr: csr.pem, idempotencyKey: "order-42")
        let first = try f.process(f.issue, payload: payload).1.get()
        let second = try f.process(f.issue, payload: payload).1.get()
        #expect(first.issuedCertificateId == second.issuedCertificateId)
        #expect(try f.count("certificates") == 1)
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_COMPLETED'") == 1)
    }

    /// Bad input ends the job FAILED at once with a specific error; only the failure is recorded.
    func expectRefused(_ f: CertFixture, _ payload: IssueCertificatePayload, _ message: String,
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try f.count("certificate_requests")
        let (jobId, outcome) = try f.process(f.issue, payload: payload, maxAttempts: 5)
        guard case .failure(let failure) = outcome else {
            Issue.record("the job succeeded", sourceLocation: sourceLocation)
            return
        }
        #expect(failure.isPermanent, sourceLocation: sourceLocation)
        #expect(failure.message.contains(message), "\(failure.message)", sourceLocation: sourceLocation)
        let job = try f.jobState(jobId)
        #expect(job.status == "FAILED", sourceLocation: sourceLocation)
        #expect(job.error?.contains(message) == true, sourceLocation: sourceLocation)
        #expect(try f.count("certificates") == 0, sourceLocation: sourceLocation)
        #expect(try f.count("ca_issued_certificates") == 0, sourceLocation: sourceLocation)
        #expect(try f.count("certificate_requests") == before, sourceLocation: sourceLocation)
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_FAILED' AND entity_id = 'job:\(jobId)'") == 1, sourceLocation: sourceLocation)
        #expect(try f.count("events", where: "event_type = 'CERTIFICATE_ACTION_PERFORMED' AND payload->>'outcome' = 'FAILURE' AND payload->>'job_id' = '\(jobId)'") == 1,
                sourceLocation: sourceLocation)
    }

    @Test func badInputFailsAtOnceWithASpecificError() throws {
        let f = try CertFixture()
        try expectRefused(f, IssueCertificatePayload(profile: "web", csr: "not a CSR at all"), "the CSR cannot be read")

        let (csr, _) = try CertFixture.csr(["www.example.test"])
        var der = csr.der
        der[der.count - 3] ^= 0x55
        try expectRefused(f, IssueCertificatePayload(profile: "web", csr: PEM.encode(der, label: "CERTIFICATE REQUEST")),
                          "signature does not verify")

        let made = try CertOpenSSL.run(
            ["req", "-new", "-newkey", "rsa:1024", "-nodes", "-keyout", "weak.key", "-out", "weak.csr", "-subj", "/CN=weak.example.test"],
            in: f.scratch)
        #expect(made.status == 0)
        try expectRefused(f, IssueCertificatePayload(profile: "web", csr: try f.scratch.read("weak.csr")),
                          "the RSA key has 1024 bits; profile web requires at least 2048")

        let (outside, _) = try CertFixture.csr(["www.example.test", "www.example.org"])
        try expectRefused(f, IssueCertificatePayload(profile: "web", csr: outside.pem),
                          "www.example.org is outside the domains of profile web")

        try expectRefused(f, IssueCertificatePayload(profile: "nope", csr: csr.pem), "unknown RA profile \"nope\"")
        try expectRefused(f, IssueCertificatePayload(profile: "web", csr: csr.pem, commonName: "x.example.test"), "either a CSR or names")
    }

    @Test func aDisabledOrUnknownCAFailsClearly() throws {
        let f = try CertFixture()
        let (csr, _) = try CertFixture.csr(["www.example.test"])
        try f.connection.execute("UPDATE certbus.certificate_authorities SET status = 'DISABLED' WHERE id = $1", [f.intermediate.id])
        try expectRefused(f, IssueCertificatePayload(profile: "web", csr: csr.pem), "CA test-ca is disabled")
        try f.connection.execute("UPDATE certbus.certificate_authorities SET status = 'ACTIVE', kind = 'VAULT' WHERE id = $1", [f.intermediate.id])
        try expectRefused(f, IssueCertificatePayload(profile: "web", csr: csr.pem), "of kind VAULT, which no connector serves")
        // A profile cannot even be created for a CA that does not exist.
        #expect(throws: RAProfileError(message: "unknown CA \"ghost\" (see certbus ca list)")) {
            try RAProfileStore.create(RAProfileDraft(name: "ghostly", ca: "ghost"), actor: f.actor, on: f.connection)
        }
    }

    @Test func aCAThatIsDownIsRetriedThenFailsForGood() throws {
        let f = try CertFixture(factories: [DownCAFactory()])
        try f.connection.execute(
            "INSERT INTO certbus.certificate_authorities (name, kind) VALUES ('flaky', 'TEST_DOWN')")
        _ = try RAProfileStore.create(RAProfileDraft(name: "flaky-web", ca: "flaky"), actor: f.actor, on: f.connection)
        let (csr, _) = try CertFixture.csr(["www.example.test"])
        let jobId = try f.enqueue(.issueCertificate, payload: IssueCertificatePayload(profile: "flaky-web", csr: csr.pem), maxAttempts: 2)

        guard case .failure(let first) = try f.finish(f.issue, try f.claim(.issueCertificate)) else {
            Issue.record("issued through a CA that is down")
            return
        }
        #expect(!first.isPermanent)
        #expect(first.message == "CA flaky: connection refused (test CA is down)")
        #expect(try f.jobState(jobId).status == "QUEUED")
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_FAILED'") == 0)
        let request = try #require(try CertificateRequestStore.find(idempotencyKey: "job:\(jobId)", on: f.connection))
        #expect(request.status == .submitted)

        guard case .failure(let last) = try f.finish(f.issue, try f.claim(.issueCertificate)) else { return }
        #expect(!last.isPermanent)
        #expect(try f.jobState(jobId).status == "FAILED")
        #expect(try CertificateRequestStore.find(id: request.id, on: f.connection)?.status == .failed)
        #expect(try f.count("audit_log", where: "action = 'ISSUANCE_FAILED'") == 1)
        #expect(try f.count("certificates") == 0)
    }

    @Test func aRealTLSHandshakeWithAnIssuedCertificate() throws {
        let f = try CertFixture()
        let (_, outcome) = try f.process(f.issue, payload: IssueCertificatePayload(profile: "web", commonName: "tls.example.test",
                                                                                   subjectAlternativeNames: ["127.0.0.1"]))
        let id = try #require(try outcome.get().issuedCertificateId)
        let export = try CertificateExport.export(id: id.uuidString, withKey: true, keyEncryptionKey: f.kek, actor: f.actor,
                                                  on: f.connection)
        let s = f.scratch
        try s.write(export.certificatePEM, to: "tls.pem")
        try s.write(export.chainPEM, to: "chain.pem")
        try s.write(try #require(export.privateKeyPEM), to: "tls.key")
        try s.write(f.root.certificatePEM!, to: "root.pem")
        let server = try OpenSSLServer(scratch: s, certificate: "tls.pem", chain: "chain.pem", key: "tls.key")
        defer { server.stop() }
        let result = try CertOpenSSL.run(
            ["s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", "root.pem", "-verify_return_error",
             "-servername", "tls.example.test", "-verify_hostname", "tls.example.test"],
            input: "Q\n", in: s)
        #expect(result.combined.contains("Verify return code: 0 (ok)"), "\(result.combined)")
        let byIP = try CertOpenSSL.run(
            ["s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", "root.pem", "-verify_return_error", "-verify_ip", "127.0.0.1"],
            input: "Q\n", in: s)
        #expect(byIP.combined.contains("Verify return code: 0 (ok)"), "\(byIP.combined)")
        let wrongName = try CertOpenSSL.run(
            ["s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", "root.pem", "-verify_return_error",
             "-verify_hostname", "other.example.test"], input: "Q\n", in: s)
        #expect(!wrongName.combined.contains("Verify return code: 0 (ok)"))
    }
}

/// A CA kind whose connector is always unreachable.
struct DownCAFactory: CertificateAuthorityConnectorFactory {
    var kind: String { "TEST_DOWN" }
    func makeConnector(for authority: CertificateAuthorityRecord, environment: CAConnectorEnvironment) throws -> any CertificateAuthorityConnector {
        DownCA(authority: authority)
    }
}

struct DownCA: CertificateAuthorityConnector {
    let authority: CertificateAuthorityRecord
    func fail() -> CAConnectorError { .retryable(.unreachable, caName: authority.name, "connection refused (test CA is down)") }
    func issue(_ request: CAIssueRequest, context: CAOperationContext) throws -> CAIssuedCertificate { throw fail() }
    func revoke(_ request: CARevocationRequest, context: CAOperationContext) throws -> CARevocationResult { throw fail() }
    func refresh(context: CAOperationContext) throws -> CARefreshResult { throw fail() }
}

/// `openssl s_server` on 127.0.0.1 presenting a certificate, for real handshakes.
final class OpenSSLServer {
    let process = Process()
    let port: Int

    init(scratch: CertScratch, certificate: String, chain: String, key: String) throws {
        port = Int.random(in: 20000...60000)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", certificate, "-cert_chain", chain, "-key", key, "-quiet", "-naccept", "10"]
        process.currentDirectoryURL = scratch.url
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while !LoopbackPort.accepts(port), process.isRunning, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    }

    func stop() {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

@Suite struct HandlerPayloadTests {
    @Test func payloadsAreSnakeCaseAndAcceptTheOldCamelCaseKeys() throws {
        let encoded = String(decoding: try JSONEncoder().encode(IssueCertificatePayload(profile: "web", commonName: "a.example.test", idempotencyKey: "k")), as: UTF8.self)
        #expect(encoded.contains("\"common_name\""))
        #expect(encoded.contains("\"idempotency_key\""))
        let legacy = try JSONDecoder().decode(IssueCertificatePayload.self, from: Data(#"{"profile": "web", "csr": "x", "idempotencyKey": "install:7"}"#.utf8))
        #expect(legacy.idempotencyKey == "install:7")
        let modern = try JSONDecoder().decode(IssueCertificatePayload.self, from: Data(#"{"profile": "web", "common_name": "a", "idempotency_key": "k2", "idempotencyKey": "ignored"}"#.utf8))
        #expect(modern.idempotencyKey == "k2")
        #expect(modern.commonName == "a")
    }
}
