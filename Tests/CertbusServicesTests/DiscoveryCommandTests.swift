import CertbusServices
import CertbusTesting
import Foundation
import Testing

/// `certbus discovery run|list|show` end to end, with a test worker running the DISCOVERY job.
@Suite struct DiscoveryCommandTests {
    @Test func runWaitListAndShow() throws {
        let pki = try ValidationPKI()
        let leaf = try pki.leaf(["svc.example.test"])
        let server = try ValidationTLSServer(certificate: leaf.certificate, key: leaf.key, chain: pki.servedChain)
        let refusing = try LoopbackPort.refusing()
        defer { refusing.release() }
        let closed = refusing.port
        let db = try TestDatabase.create()
        defer { db.drop() }
        let pool = db.pool()
        defer { pool.close() }

        let running = try CertbusCommand(
            ["discovery", "run", "--targets", "127.0.0.1:\(server.port),127.0.0.1:\(closed)", "--name", "lab", "--wait", "--json"],
            database: db)
        #expect(try TestWorker.runNext(DiscoveryHandler(), pool: pool) != nil)
        let result = running.finish()
        #expect(result.status == 0, "\(result.error)")
        let run = try #require(try result.json() as? [String: Any])
        #expect(run["new_certificates"] as? Int == 1)
        #expect(run["targets_reachable"] as? Int == 1)
        let findings = try #require(run["findings"] as? [[String: Any]])
        #expect(findings.map { $0["outcome"] as? String } == ["CERTIFICATE", "UNREACHABLE"])
        #expect(findings[0]["common_name"] as? String == "svc.example.test")
        #expect(findings[0]["fingerprint_sha256"] as? String == leaf.certificate.sha256Fingerprint)
        #expect((findings[1]["error"] as? String)?.contains("connection refused") == true)

        let list = try CertbusCommand.run(["discovery", "list"], database: db)
        #expect(list.output.contains("lab") && list.output.contains("COMPLETED"))
        let id = try #require(run["id"] as? String)
        let show = try CertbusCommand.run(["discovery", "show", id], database: db)
        #expect(show.output.contains("1 new"))
        #expect(show.output.contains("svc.example.test"))
    }

    @Test func badTargetsAreRefusedBeforeAnythingIsQueued() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let cases: [([String], String)] = [
            (["discovery", "run"], "--targets is required"),
            (["discovery", "run", "--targets", "10.0.0.0/8:443"], "at most 256"),
            (["discovery", "run", "--targets", "host-without-port"], "expected host:port"),
            (["discovery", "run", "--targets", "127.0.0.1:443", "--probe-timeout", "2m"], "--probe-timeout"),
            (["discovery", "show", "not-an-id"], "is not a discovery id"),
        ]
        for (arguments, text) in cases {
            let result = try CertbusCommand.run(arguments, database: db)
            #expect(result.status == 2, "\(arguments): \(result.error)")
            #expect(result.error.contains(text), "\(arguments): \(result.error)")
        }
        // Without a worker, --wait gives up with a clear message (the job stays queued).
        let waiting = try CertbusCommand.run(["discovery", "run", "--targets", "127.0.0.1:9", "--wait", "--timeout", "1s"], database: db)
        #expect(waiting.status == 1)
        #expect(waiting.error.contains("is a worker running"))
        let c = try db.connect()
        defer { c.close() }
        #expect(try AgentTestSupport.count(c, "SELECT count(*) AS n FROM certbus.jobs WHERE status = 'QUEUED'") == 1)
        #expect(try AgentTestSupport.count(c, "SELECT count(*) AS n FROM certbus.discovery_runs") == 0)
    }

    /// With a real `certbus worker` process: discovery and a deployment validation, waited for on the command line.
    @Test func realWorkerRunsDiscoveryAndValidation() throws {
        let pki = try ValidationPKI()
        let leaf = try pki.leaf(["localhost", "127.0.0.1"])
        let server = try ValidationTLSServer(certificate: leaf.certificate, key: leaf.key, chain: pki.servedChain)
        let db = try TestDatabase.create()
        defer { db.drop() }
        let worker = try CertbusCommand(["worker", "--poll-interval", "0.2", "--quiet"], database: db)
        defer {
            worker.kill()
            _ = worker.finish()
        }
        let discovered = try CertbusCommand.run(
            ["discovery", "run", "--targets", "localhost:\(server.port)", "--wait", "--timeout", "60s", "--json"], database: db)
        #expect(discovered.status == 0, "\(discovered.error)")
        let run = try #require(try discovered.json() as? [String: Any])
        #expect(run["new_certificates"] as? Int == 1)

        // The discovered certificate is the expected one of a sensor endpoint; validate it through the worker.
        _ = try CertbusCommand.run(
            ["endpoint", "add", "svc", "--kind", "sensor", "--host", "127.0.0.1", "--port", "\(server.port)", "--server-name", "localhost",
             "--certificate", leaf.certificate.sha256Fingerprint], database: db)
        let validated = try CertbusCommand.run(["endpoint", "validate", "svc", "--wait", "--timeout", "60s"], database: db)
        #expect(validated.status == 0, "\(validated.error)")
        #expect(validated.output.contains("svc: validation passed"))
    }
}
