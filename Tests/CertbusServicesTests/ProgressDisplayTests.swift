import CertbusTesting
import Foundation
import Postgres
import Testing

/// The progress line of long-running commands, end to end: drawn when standard error is a
/// terminal (the command runs under `script`, which gives it a pseudo-terminal), never drawn when
/// it is a pipe, and never with `--json`, whose output stays pure JSON.
///
/// Database: each test its own TestDatabase (template copy on the shared test cluster), dropped at the end.
@Suite("Progress display")
struct ProgressDisplayTests {
    /// `script` from util-linux (package bsdutils, always installed on Debian).
    static let script = "/usr/bin/script"

    /// Runs `certbus arguments… --database-url` on a pseudo-terminal and returns its exit status and
    /// everything it wrote (standard output and error together, line ends as `\n`).
    static func inTerminal(_ arguments: [String], db: TestDatabase) throws -> (status: Int32, text: String) {
        guard FileManager.default.isExecutableFile(atPath: script) else {
            throw TestServerFailure("\(script) is missing: apt-get install bsdutils")
        }
        let words = [TestCluster.certbusExecutable.path] + arguments + ["--database-url", db.connectionString]
        let commandLine = words.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: script)
        process.arguments = ["-qec", commandLine, "/dev/null"]
        process.environment = ProcessInfo.processInfo.environment.merging(["CERTBUS_USER": CertbusCommand.testUser, "TERM": "dumb"]) { $1 }
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n"))
    }

    @Test func drawnOnATerminalOnly() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        try AuditFixture.write(5, on: c)

        let seal = try Self.inTerminal(["audit", "seal"], db: db)
        #expect(seal.status == 0, "\(seal.text)")
        #expect(seal.text.contains("\rsealing audit rows: "), "\(seal.text)")
        #expect(seal.text.contains("sealed "))
        let verify = try Self.inTerminal(["audit", "verify"], db: db)
        #expect(verify.status == 0, "\(verify.text)")
        #expect(verify.text.contains("\rverifying the audit chain: "), "\(verify.text)")
        let scan = try Self.inTerminal(["events", "scan"], db: db)
        #expect(scan.status == 0, "\(scan.text)")
        #expect(scan.text.contains("\rscanning certificate expiries · 0 s"), "\(scan.text)")
        // Waiting for a job no worker runs: its status and the time waited, then the timeout.
        let discovery = try Self.inTerminal(["discovery", "run", "--targets", "127.0.0.1:1", "--wait", "--timeout", "2s"], db: db)
        #expect(discovery.status == 1, "\(discovery.text)")
        #expect(discovery.text.range(of: #"\rjob [0-9]+: QUEUED · [0-9] s"#, options: .regularExpression) != nil, "\(discovery.text)")
        #expect(discovery.text.contains("is still QUEUED after 2 s"))

        // The same commands on a pipe draw nothing.
        for arguments in [["audit", "seal"], ["audit", "verify"], ["events", "scan"], ["alerts", "scan"], ["events", "prune", "--older-than", "1"]] {
            let result = try CertbusCommand.run(arguments, database: db, timeout: 120)
            #expect(result.status == 0, "\(arguments): \(result.combined)")
            #expect(!result.combined.contains("\r"), "\(arguments) drew on a pipe: \(result.combined)")
        }
    }

    @Test func jsonStaysPureEvenOnATerminal() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        try AuditFixture.write(5, on: c)
        for arguments in [["audit", "seal", "--json"], ["audit", "verify", "--json"], ["events", "scan", "--json"],
                          ["alerts", "scan", "--json"], ["events", "prune", "--older-than", "1", "--json"], ["migrate", "--json"]] {
            let run = try Self.inTerminal(arguments, db: db)
            #expect(run.status == 0, "\(arguments): \(run.text)")
            #expect(!run.text.contains("\r"), "\(arguments) drew progress with --json: \(run.text)")
            #expect((try? JSONSerialization.jsonObject(with: Data(run.text.utf8))) != nil, "\(arguments) printed more than JSON: \(run.text)")
        }
        // And on a pipe, standard output is exactly one JSON document with nothing on standard error.
        let verify = try CertbusCommand.run(["audit", "verify", "--json"], database: db, timeout: 120)
        #expect(verify.status == 0)
        #expect(verify.error == "")
        #expect((try verify.json() as? [String: Any])?["valid"] as? Bool == true)
    }

    @Test func migrateSaysWhichFileOfHowMany() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let result = try CertbusCommand.run(["migrate"], database: db, timeout: 300)
        #expect(result.status == 0, "\(result.combined)")
        let lines = result.output.split(separator: "\n").filter { $0.hasPrefix("applying ") }
        #expect(lines.count > 10)
        #expect(lines.first?.hasSuffix("(1 of \(lines.count))") == true, "\(lines.first ?? "")")
        #expect(lines.last?.hasSuffix("(\(lines.count) of \(lines.count))") == true, "\(lines.last ?? "")")
    }
}
