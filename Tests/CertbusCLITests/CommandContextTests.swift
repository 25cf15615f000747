import CertbusArguments
import Foundation
import Testing

@testable import certbus

@Suite("Command context: which database")
struct CommandContextTests {
    @Test func optionBeatsEnvironmentBeatsEmbedded() {
        let environment = ["CERTBUS_DATABASE_URL": "postgresql://env/db", "CERTBUS_HOME": "/srv/certbus"]
        #expect(
            CommandContext.resolveDatabase(url: "postgresql://opt/db", environment: environment, currentDirectory: "/w")
                == .url("postgresql://opt/db", origin: .option))
        #expect(
            CommandContext.resolveDatabase(url: nil, environment: environment, currentDirectory: "/w")
                == .url("postgresql://env/db", origin: .environment))
        #expect(
            CommandContext.resolveDatabase(url: nil, environment: ["CERTBUS_HOME": "/srv/certbus"], currentDirectory: "/w")
                == .embedded(dataDirectory: "/srv/certbus/postgres"))
        #expect(
            CommandContext.resolveDatabase(url: nil, environment: [:], currentDirectory: "/w")
                == .embedded(dataDirectory: "/w/.certbus/postgres"))
    }

    @Test func emptyValuesCountAsUnset() {
        #expect(
            CommandContext.resolveDatabase(
                url: "", environment: ["CERTBUS_DATABASE_URL": "", "CERTBUS_HOME": ""], currentDirectory: "/w")
                == .embedded(dataDirectory: "/w/.certbus/postgres"))
    }

    @Test func passwordsAreRedacted() {
        #expect(CommandContext.redacted("postgresql://u:secret@h:5432/db") == "postgresql://u:***@h:5432/db")
        #expect(CommandContext.redacted("postgresql://u@h/db") == "postgresql://u@h/db")
        #expect(CommandContext.redacted("postgresql://h/db?x=a:b@c") == "postgresql://h/db?x=a:b@c")
        #expect(CommandContext.redacted("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db")
        #expect(CommandContext.redacted("host=/tmp user=x") == "host=/tmp user=x")
    }
}

@Suite("certbus command tree")
struct CommandTreeTests {
    func run(_ words: [String], environment: [String: String] = [:]) async -> (Int32, String, String) {
        let out = CapturedOutput()
        let err = CapturedOutput()
        let status = await CommandRunner(CommandTree.root).run(words, output: out, errorOutput: err, environment: environment)
        return (status, out.text, err.text)
    }

    @Test func versionForms() async {
        let (status, out, _) = await run(["version"])
        #expect(status == 0)
        #expect(out.hasPrefix("certbus \(CertbusVersion.current)\nswift "))
        #expect(await run(["--version"]).1 == out)
        let (jsonStatus, json, _) = await run(["version", "--json"])
        #expect(jsonStatus == 0)
        #expect(json.contains("\"certbus\" : \"\(CertbusVersion.current)\""))
    }

    @Test func bareCertbusIsAUsageError() async {
        let (status, out, err) = await run([])
        #expect(status == 2)
        #expect(out == "")
        #expect(err.contains("Subcommands: version, db"))
    }

    @Test func dbCommandsWithAnExternalURLHaveNothingToManage() async {
        for command in ["start", "stop", "status"] {
            let (status, out, _) = await run(
                ["db", command], environment: ["CERTBUS_DATABASE_URL": "postgresql://u:pw@db.example/certbus"])
            #expect(status == 0, "\(command)")
            #expect(out.hasPrefix("nothing to manage: certbus uses the database at postgresql://u:***@db.example/certbus"))
        }
        let (status, out, _) = await run(["db", "url", "--database-url", "postgresql://x@y/z"])
        #expect(status == 0)
        #expect(out == "postgresql://x@y/z\n")
    }

    @Test func dbStatusOfAMissingClusterIsThree() async throws {
        let directory = "/tmp/certbus-cli-test-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (status, out, _) = await run(["db", "status", "--data-dir", directory + "/pg"])
        #expect(status == 3)
        #expect(out.hasPrefix("not initialized"))
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test func badSetIsAUsageError() async {
        let (status, _, err) = await run(["db", "start", "--set", "fsync", "--data-dir", "/nonexistent/x"])
        #expect(status == 2)
        #expect(err.hasPrefix("error: invalid value 'fsync' for '--set' of 'certbus db start': expected name=value\n"))
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent"))
    }
}

@Suite("Signal handler")
struct SignalHandlerTests {
    @Test func theFirstSignalCallsTheCallbackOnce() async throws {
        let received = Received()
        let handler = SignalHandler(signals: [SIGUSR2]) { received.append($0) }
        defer { handler.cancel() }
        kill(getpid(), SIGUSR2)  // process-directed, as from `kill`; dispatch worker threads block signals
        for _ in 0..<200 where received.values.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        #expect(received.values == [SIGUSR2])
        #expect(handler.receivedCount == 1)
    }

    final class Received: @unchecked Sendable {
        private let lock = NSLock()
        private var storage: [Int32] = []
        func append(_ value: Int32) { lock.withLock { storage.append(value) } }
        var values: [Int32] { lock.withLock { storage } }
    }
}
