import CertbusHTTP
import CertbusMetrics
import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import CertbusServices

/// The metrics endpoint of real `certbus worker` and `certbus serve` processes, scraped over HTTP
/// and parsed line by line with the tests' strict parser; `certbus metrics`; and the error paths.
///
/// Database: each test its own TestDatabase (template copy on the shared test cluster), dropped at
/// the end; processes started here are killed before the test returns.
@Suite("Metrics endpoint")
struct MetricsEndpointTests {
    /// GET (or another method) on 127.0.0.1:`port``path`.
    static func request(_ port: Int, _ path: String = "/metrics", method: HTTPMethod = .get) throws -> HTTPResponse {
        let client = HTTPClient(configuration: HTTPClient.Configuration(requestTimeout: .seconds(20)))
        return try client.sendBlocking(HTTPClientRequest(method: method, url: URL(string: "http://127.0.0.1:\(port)\(path)")!))
    }

    /// Scrapes and parses strictly; records an issue (and returns nil) when the text is not valid.
    static func scrape(_ port: Int) throws -> PrometheusText? {
        let response = try request(port)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8")
        do {
            return try PrometheusText(response.bodyText ?? "")
        } catch {
            Issue.record("the exposition does not parse: \(error)\n\(response.bodyText ?? "")")
            return nil
        }
    }

    /// Scrapes until `done` holds for the parsed text (or 60 s pass), returning the last text.
    static func scrape(_ port: Int, until done: (PrometheusText) -> Bool) throws -> PrometheusText? {
        let deadline = Date().addingTimeInterval(60)
        var text = try scrape(port)
        while let current = text, !done(current), Date() < deadline {
            Thread.sleep(forTimeInterval: 0.1)
            text = try scrape(port)
        }
        return text
    }

    /// Starts `certbus arguments… --metrics-listen 127.0.0.1:PORT` against `db` and waits until the port accepts.
    static func start(_ arguments: [String], db: TestDatabase) throws -> (CertbusCommand, Int) {
        let port = try LoopbackPort.unused()
        let command = try CertbusCommand(arguments + ["--metrics-listen", "127.0.0.1:\(port)"], database: db)
        guard LoopbackPort.waitUntilAccepting(port, deadline: Date().addingTimeInterval(60)) else {
            command.kill()
            let result = command.finish(timeout: 10)
            throw TestServerFailure("certbus \(arguments.joined(separator: " ")) never listened on \(port): \(result.combined)")
        }
        return (command, port)
    }

    static func enqueueNoop(_ c: Connection, _ payload: String, maxAttempts: Int = 3) throws {
        try c.execute("SELECT certbus.enqueue_job('NOOP', $1::jsonb, p_max_attempts => $2)", [payload, maxAttempts])
    }

    // MARK: - The parser of the tests must itself refuse what Prometheus refuses

    @Test func theTestParserIsStrict() throws {
        let valid = """
            # HELP a_total A.
            # TYPE a_total counter
            a_total{k="x\\"y\\\\z\\n"} 1
            # TYPE h histogram
            h_bucket{le="1"} 1
            h_bucket{le="+Inf"} 2
            h_sum 3.5
            h_count 2

            """
        let parsed = try PrometheusText(valid)
        #expect(parsed.value("a_total", ["k": "x\"y\\z\n"]) == 1)
        #expect(parsed.value("h_count") == 2)
        let invalid = [
            "a 1\n",  // no TYPE
            "# TYPE a gauge\na 1",  // no final newline
            "# TYPE a gauge\na 1\na 2\n",  // duplicate series
            "# TYPE a gauge\na{k=\"\\x\"} 1\n",  // unknown escape
            "# TYPE a gauge\na{__k=\"v\"} 1\n",  // reserved label name
            "# TYPE a gauge\na{k=\"v\",k=\"w\"} 1\n",  // label twice
            "# TYPE a gauge\na 1 1700000000\n",  // timestamp
            "# TYPE a gauge\na one\n",  // not a number
            "# TYPE a counter\na 1\n",  // counter without _total
            "# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n",  // not contiguous
            "# TYPE a gauge\n# TYPE a gauge\na 1\n",  // TYPE twice
            "# TYPE a gauge\n# a comment\na 1\n",  // stray comment
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",  // decreasing
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",  // +Inf != count
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf
            "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n",  // no _sum
            "# TYPE a gauge\na{le=\"1\"} 1\n",  // le outside a bucket
            "# TYPE 1a gauge\n1a 1\n",  // bad name
        ]
        for text in invalid {
            #expect(throws: PrometheusText.ParseError.self, "\(text)") { try PrometheusText(text) }
        }
    }

    // MARK: - Routing and an unreachable database

    @Test func answersOnlyGetAndHeadOfMetrics() {
        let request = { (method: HTTPMethod, target: String) in
            MetricsEndpoint.respond(to: HTTPRequest(method: method, target: target)) { "# TYPE a gauge\na 1\n" }
        }
        #expect(request(.get, "/metrics").status == 200)
        #expect(request(.get, "/metrics").bodyText == "# TYPE a gauge\na 1\n")
        #expect(request(.get, "/metrics?name[]=x").status == 200)
        #expect(request(.head, "/metrics").status == 200)
        #expect(request(.get, "/").status == 404)
        #expect(request(.get, "/metricsx").status == 404)
        let post = request(.post, "/metrics")
        #expect(post.status == 405)
        #expect(post.headers["Allow"] == "GET, HEAD")
    }

    @Test func aScrapeWithoutTheDatabaseStillAnswersAndSaysSo() throws {
        let refusing = try LoopbackPort.refusing()
        let source = DatabaseMetricsSource(
            configuration: ConnectionConfiguration("host=127.0.0.1 port=\(refusing.port) dbname=nothing user=nobody connect_timeout=2"),
            log: .silent)
        defer { source.close() }
        let port = try LoopbackPort.unused()
        let endpoint = MetricsEndpoint(
            address: MetricsListenAddress(host: "127.0.0.1", port: port), log: .silent
        ) { ProcessMetrics.collect() + source.collect() }
        try endpoint.start()
        defer { endpoint.stop(grace: 1) }
        for _ in 0..<2 {
            let text = try #require(try Self.scrape(port))
            #expect(text.value("certbus_database_up") == 0)
            #expect(text.family("certbus_certificates") == nil)
            #expect((text.value("process_resident_memory_bytes") ?? 0) > 0)
        }
        #expect(try Self.request(port, "/").status == 404)
        #expect(try Self.request(port, method: .delete).status == 405)
    }

    // MARK: - A worker process

    @Test func aWorkerCountsTheAttemptsItRan() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let (worker, port) = try Self.start(
            ["worker", "--kinds", "NOOP", "--concurrency", "2", "--poll-interval", "0.2", "--no-maintenance", "--quiet"], db: db)
        defer {
            worker.kill()
            _ = worker.finish(timeout: 10)
        }
        let before = try #require(try Self.scrape(port))
        #expect(before.value("certbus_worker_job_attempts_total", ["kind": "NOOP", "result": "success"]) == 0)
        #expect(before.value("certbus_worker_job_duration_seconds_count", ["kind": "NOOP"]) == 0)
        #expect(before.family("certbus_database_up") == nil)  // a worker serves no database series
        #expect(before.family("certbus_certificates") == nil)

        try Self.enqueueNoop(c, #"{}"#)
        try Self.enqueueNoop(c, #"{}"#)
        try Self.enqueueNoop(c, #"{"sleep_ms": 300}"#)
        try Self.enqueueNoop(c, #"{"fail": "permanent"}"#)
        try Self.enqueueNoop(c, #"{"fail": "retryable"}"#, maxAttempts: 1)
        let text = try #require(try Self.scrape(port) { text in
            text.value("certbus_worker_job_duration_seconds_count", ["kind": "NOOP"]) == 5
        })
        #expect(text.value("certbus_worker_job_attempts_total", ["kind": "NOOP", "result": "success"]) == 3)
        #expect(text.value("certbus_worker_job_attempts_total", ["kind": "NOOP", "result": "failure"]) == 2)
        #expect(text.value("certbus_worker_job_failures_total", ["kind": "NOOP", "class": "permanent"]) == 1)
        #expect(text.value("certbus_worker_job_failures_total", ["kind": "NOOP", "class": "retryable"]) == 1)
        for failureClass in ["cancelled", "database", "unexpected"] {
            #expect(text.value("certbus_worker_job_failures_total", ["kind": "NOOP", "class": failureClass]) == 0)
        }
        #expect(text.value("certbus_worker_jobs_claimed_total") == 5)
        #expect(text.value("certbus_worker_concurrency") == 2)
        // The 300 ms attempt lies above the 0.25 s bucket; the sum holds at least its sleep.
        #expect((text.value("certbus_worker_job_duration_seconds_bucket", ["kind": "NOOP", "le": "0.25"]) ?? 9) <= 4)
        #expect((text.value("certbus_worker_job_duration_seconds_sum", ["kind": "NOOP"]) ?? 0) >= 0.3)
        #expect(text.family("certbus_worker_job_duration_seconds")?.type == "histogram")
        #expect((text.value("process_resident_memory_bytes") ?? 0) > 1_048_576)
        #expect((text.value("process_open_fds") ?? 0) > 0)
        let inFlight = try #require(try Self.scrape(port) { $0.value("certbus_worker_jobs_in_flight") == 0 })
        #expect(inFlight.value("certbus_worker_jobs_in_flight") == 0)
        #expect(try Self.request(port, method: .head).status == 200)
        #expect(try Self.request(port, "/nothing").status == 404)
        #expect(try Self.request(port, method: .post).status == 405)
    }

    // MARK: - serve: database, worker and process series in one scrape

    @Test func serveExportsTheDatabaseAndItsWorker() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        try c.execute("INSERT INTO certbus.certificate_authorities (name, kind) VALUES ('metrics-ca', 'BUILT_IN')")
        try MetricsFixture.certificate(c, serial: "r1", profile: nil, status: "REVOKED", expiresIn: 86_400)
        try MetricsFixture.certificate(c, serial: "r2", profile: nil, status: "REVOKED", expiresIn: 86_400)
        try c.execute("INSERT INTO certbus.agents (name, status) VALUES ('n1', 'NEVER_SEEN'), ('n2', 'NEVER_SEEN')")
        let (serve, port) = try Self.start(["serve", "--quiet"], db: db)
        defer {
            serve.kill()
            _ = serve.finish(timeout: 10)
        }
        try Self.enqueueNoop(c, #"{}"#)
        let text = try #require(try Self.scrape(port) { text in
            text.value("certbus_worker_job_attempts_total", ["kind": "NOOP", "result": "success"]) == 1
        })
        #expect(text.value("certbus_database_up") == 1)
        #expect((text.value("certbus_metrics_snapshot_duration_seconds") ?? -1) >= 0)
        #expect(text.value("certbus_certificates", ["status": "REVOKED"]) == 2)
        #expect(text.value("certbus_agents", ["status": "NEVER_SEEN"]) == 2)
        let (snapshot, _) = try DatabaseMetrics.read(on: c)
        for family in snapshot { #expect(text.family(family.name) != nil, "\(family.name) missing from the scrape") }
        for name in ["process_resident_memory_bytes", "process_cpu_seconds_total", "certbus_worker_jobs_in_flight",
                     "certbus_worker_job_duration_seconds", "certbus_worker_job_failures_total"] {
            #expect(text.family(name) != nil, "\(name) missing from the scrape")
        }
    }

    // MARK: - certbus metrics and the error paths

    @Test func theMetricsCommandPrintsTheSnapshotAsTextOrJSON() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        _ = try MetricsFixture.fill(c)
        let result = try CertbusCommand.run(["metrics"], database: db, timeout: 60)
        #expect(result.status == 0, "\(result.error)")
        #expect(result.error == "")
        let text = try PrometheusText(result.output)
        #expect(text.value("certbus_certificates", ["status": "VALID"]) == 6)
        #expect(text.value("certbus_jobs", ["kind": "NOOP", "status": "QUEUED"]) == 4)
        #expect(text.family("process_resident_memory_bytes") == nil)  // no per-process series in the CLI

        let json = try CertbusCommand.run(["metrics", "--json"], database: db, timeout: 60)
        #expect(json.status == 0, "\(json.error)")
        let families = try #require(try json.json() as? [[String: Any]])
        let certificates = try #require(families.first { $0["name"] as? String == "certbus_certificates" })
        #expect(certificates["type"] as? String == "gauge")
        let samples = try #require(certificates["samples"] as? [[String: Any]])
        #expect(samples.contains { ($0["labels"] as? [String: String])?["status"] == "EXPIRING" && ($0["value"] as? Double) == 1 })
        #expect(families.count == text.families.count)
    }

    @Test func badAddressesAndBusyPortsAreRefusedBeforeAnyWork() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        try Self.enqueueNoop(c, #"{}"#)
        for (command, value, message) in [
            ("worker", "nonsense", "'nonsense' is not a port number"), ("serve", "70000", "out of range"),
            ("scheduler", "::1:9464", "needs brackets"), ("worker", "", "empty"),
        ] {
            let result = try CertbusCommand.run([command, "--metrics-listen", value], database: db, timeout: 60)
            #expect(result.status == 2, "\(command) \(value): \(result.combined)")
            #expect(result.error.contains("--metrics-listen '\(value)'") && result.error.contains(message), "\(result.error)")
        }
        // A port another process listens on: the worker says so and exits before claiming anything.
        let busy = HTTPServer { _ in .text("taken") }
        try busy.start()
        defer { busy.stop() }
        let result = try CertbusCommand.run(
            ["worker", "--kinds", "NOOP", "--metrics-listen", "127.0.0.1:\(busy.port)"], database: db, timeout: 60)
        #expect(result.status == 1, "\(result.combined)")
        #expect(result.error.contains("cannot serve metrics on 127.0.0.1:\(busy.port)") && result.error.contains("in use"), "\(result.error)")
        let status = try c.query("SELECT status, attempt FROM certbus.jobs")[0]
        #expect(try status.decode("status", as: String.self) == "QUEUED")
        #expect(try status.decode("attempt", as: Int.self) == 0)
        // certbus metrics against a database that is not there: exit 1 with the reason.
        let refusing = try LoopbackPort.refusing()
        let unreachable = try CertbusCommand.run(
            ["metrics"], databaseURL: "postgresql://nobody@127.0.0.1:\(refusing.port)/none?connect_timeout=2", timeout: 60)
        #expect(unreachable.status == 1)
        #expect(unreachable.output == "")
        #expect(unreachable.error.contains("error:"), "\(unreachable.error)")
    }
}
