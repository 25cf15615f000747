import CertbusTesting
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Runs the built `certbus` executable against a test database.
enum EndpointCLI {
    struct Result {
        var status: Int32
        var output: String
        var error: String

        /// The standard output parsed as JSON.
        func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(output.utf8)) }
    }

    static func run(_ arguments: [String], database: TestDatabase, environment: [String: String] = [:]) throws -> Result {
        try start(arguments, database: database, environment: environment).finish()
    }

    /// Same, with another connection string (e.g. logged in as an agent's role).
    static func run(_ arguments: [String], connectionString: String) throws -> Result {
        try Running(arguments + ["--database-url", connectionString], environment: [:]).finish()
    }

    /// Starts the command and returns at once; `finish()` waits for it.
    static func start(_ arguments: [String], database: TestDatabase, environment: [String: String] = [:]) throws -> Running {
        try Running(arguments + ["--database-url", database.connectionString], environment: environment)
    }

    /// A started `certbus` process.
    final class Running: @unchecked Sendable {
        let process = Process()
        private let outData = LockedData()
        private let errData = LockedData()

        init(_ arguments: [String], environment: [String: String]) throws {
            process.executableURL = TestCluster.certbusExecutable
            process.arguments = arguments
            var env = ProcessInfo.processInfo.environment
            env["CERTBUS_USER"] = "cli-tester"
            for (key, value) in environment { env[key] = value }
            process.environment = env
            let out = Pipe()
            let err = Pipe()
            process.standardOutput = out
            process.standardError = err
            process.standardInput = FileHandle.nullDevice
            try process.run()
            let outData = self.outData
            let errData = self.errData
            Thread { outData.set(out.fileHandleForReading.readDataToEndOfFile()) }.start()
            Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }.start()
        }

        func finish() -> Result {
            process.waitUntilExit()
            while !outData.isSet || !errData.isSet { usleep(1000) }
            return Result(
                status: process.terminationStatus, output: String(decoding: outData.value, as: UTF8.self),
                error: String(decoding: errData.value, as: UTF8.self))
        }
    }

    final class LockedData: @unchecked Sendable {
        private let lock = NSLock()
        private var data: Data?
        func set(_ value: Data) { lock.withLock { data = value } }
        var isSet: Bool { lock.withLock { data != nil } }
        var value: Data { lock.withLock { data ?? Data() } }
    }
}

/// `certbus endpoint ...` end to end.
@Suite struct EndpointCommandTests {
    @Test func addListShowHistoryAndSetStatus() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let added = try EndpointCLI.run(
            ["endpoint", "add", "web-1", "--kind", "agent", "--host", "127.0.0.1", "--port", "8443",
             "--server-name", "www.example.test", "--agent", "edge-1", "--json"], database: db)
        #expect(added.status == 0, "\(added.error)")
        let endpoint = try #require(try added.json() as? [String: Any])
        #expect(endpoint["automation_status"] as? String == "CONFIGURED")
        #expect(endpoint["address"] as? String == "127.0.0.1:8443")
        #expect(endpoint["agent"] as? String == "edge-1")

        let list = try EndpointCLI.run(["endpoint", "list"], database: db)
        #expect(list.status == 0)
        #expect(list.output.contains("web-1") && list.output.contains("Configured") && list.output.contains("edge-1"))

        let moved = try EndpointCLI.run(["endpoint", "set-status", "web-1", "automation-requested", "--message", "by hand"], database: db)
        #expect(moved.status == 0, "\(moved.error)")
        #expect(moved.output == "web-1: Configured -> Automation requested\n")

        let history = try EndpointCLI.run(["endpoint", "status-history", "web-1", "--json"], database: db)
        let rows = try #require(try history.json() as? [[String: Any]])
        #expect(rows.map { $0["to"] as? String } == ["CONFIGURED", "AUTOMATION_REQUESTED"])
        #expect(rows[1]["actor_id"] as? String == "cli-tester")
        #expect(rows[1]["message"] as? String == "by hand")

        let show = try EndpointCLI.run(["endpoint", "show", "web-1"], database: db)
        #expect(show.output.contains("automation status:  Automation requested"))
        #expect(show.output.contains("status history (latest 2 of 2)"))
    }

    @Test func badInputFailsClearlyAndChangesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        _ = try EndpointCLI.run(["endpoint", "add", "lb", "--kind", "sensor", "--host", "10.0.0.1"], database: db)
        let cases: [([String], Int32, String)] = [
            (["endpoint", "add", "x", "--kind", "toaster", "--host", "a.test"], 2, "unknown endpoint kind 'toaster'"),
            (["endpoint", "add", "x", "--kind", "sensor"], 2, "--host is required"),
            (["endpoint", "add", "x", "--kind", "sensor", "--host", "a.test", "--port", "99999"], 1, "port 99999"),
            (["endpoint", "add", "x", "--kind", "sensor", "--host", "bad host"], 1, "host \"bad host\""),
            (["endpoint", "add", "lb", "--kind", "sensor", "--host", "a.test"], 1, "exists already"),
            (["endpoint", "show", "nope"], 1, "no endpoint named \"nope\""),
            (["endpoint", "set-status", "lb", "installation-validated"], 1, "not a step of the automation workflow"),
            (["endpoint", "set-status", "lb", "script-error"], 1, "does not apply to sensor endpoints"),
            (["endpoint", "set-status", "lb", "bogus"], 2, "unknown automation status 'bogus'"),
            (["endpoint", "set-certificate", "lb", "not-a-cert"], 1, "neither a certificate id nor a SHA-256 fingerprint"),
        ]
        for (arguments, status, text) in cases {
            let result = try EndpointCLI.run(arguments, database: db)
            #expect(result.status == status, "\(arguments): \(result.error)")
            #expect(result.error.contains(text), "\(arguments): \(result.error)")
        }
        let list = try EndpointCLI.run(["endpoint", "list", "--json"], database: db)
        let endpoints = try #require(try list.json() as? [[String: Any]])
        #expect(endpoints.count == 1)
        #expect(endpoints[0]["automation_status"] as? String == "CONFIGURED")
        let history = try EndpointCLI.run(["endpoint", "status-history", "lb", "--json"], database: db)
        #expect((try history.json() as? [Any])?.count == 1)
    }
}
