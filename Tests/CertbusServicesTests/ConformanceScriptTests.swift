import CertbusHTTP
import CertbusTesting
import Foundation
import Testing

/// How scripts/conformance installs its linter: skipped (exit 0) only when the package index is
/// unreachable, failed (exit 1) when the index answers but pip cannot install. Each test uses a
/// virtualenv of its own in a temporary folder (never the shared .certbus/venv-pkilint) and an
/// index on loopback, so nothing is fetched from outside and certbus is never started. The script
/// runs on a thread of its own (`onWorkerThread`), never blocking the cooperative pool.
@Suite struct ConformanceScriptTests {
    /// The variables that point the script's pip at `indexURL` with an empty find-links folder.
    static func environment(index indexURL: String, scratch: CertScratch) throws -> [String: String] {
        let links = scratch.path("links")
        try FileManager.default.createDirectory(atPath: links, withIntermediateDirectories: true)
        return ["CERTBUS_PKILINT_VENV": scratch.path("venv"), "PIP_INDEX_URL": indexURL, "PIP_FIND_LINKS": links,
                "PIP_RETRIES": "0", "PIP_TIMEOUT": "5"]
    }

    @Test func anUnreachableIndexSkipsWithAClearLine() async throws {
        let scratch = try CertScratch()
        let refusing = try LoopbackPort.refusing()
        let environment = try Self.environment(index: "http://127.0.0.1:\(refusing.port)/simple", scratch: scratch)
        let result = try await onWorkerThread { try RepositoryScript.run("conformance", environment: environment) }
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.output.contains("conformance: SKIPPED: pkilint cannot be installed because the package index is unreachable"))
        #expect(!FileManager.default.fileExists(atPath: scratch.path("venv")))
    }

    @Test func anIndexThatAnswersButCannotInstallFails() async throws {
        let scratch = try CertScratch()
        let index = HTTPServer { _ in HTTPResponse.text("no such project", status: 404) }
        try index.start()
        defer { index.stop() }
        let environment = try Self.environment(index: "http://127.0.0.1:\(index.port)/simple", scratch: scratch)
        let result = try await onWorkerThread { try RepositoryScript.run("conformance", environment: environment) }
        #expect(result.status == 1, "\(result.combined)")
        #expect(result.error.contains("conformance: FAILED: pip could not install the linter although the package index answers"))
        #expect(!result.output.contains("SKIPPED"))
        #expect(!FileManager.default.fileExists(atPath: scratch.path("venv/bin/lint_pkix_cert")))
    }

    @Test func unknownArgumentsAreUsageErrors() async throws {
        let result = try await onWorkerThread { try RepositoryScript.run("conformance", arguments: ["--frobnicate"]) }
        #expect(result.status == 2)
        #expect(result.error.contains("unknown argument --frobnicate"))
        let help = try await onWorkerThread { try RepositoryScript.run("conformance", arguments: ["--help"]) }
        #expect(help.status == 0)
        #expect(help.output.contains("lint_cabf_serverauth_cert -t DV-FINAL-CERTIFICATE"))
    }
}
