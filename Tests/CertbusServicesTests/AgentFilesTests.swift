import CertbusServices
import Foundation
import Testing

/// The agent's local side: atomic certificate files with safe modes, and the post-install command.
@Suite struct AgentFilesTests {
    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    @Test func installWritesEveryFileAtomicallyWithSafeModes() throws {
        let scratch = try ScratchFolder()
        let files = CertificateFiles(directory: scratch.path("www/tls"))
        try files.install(certificatePEM: "LEAF\n", chainPEM: "INTERMEDIATE\n", keyPEM: "KEY\n")
        #expect(try String(contentsOfFile: files.certificate, encoding: .utf8) == "LEAF\n")
        #expect(try String(contentsOfFile: files.chain, encoding: .utf8) == "INTERMEDIATE\n")
        #expect(try String(contentsOfFile: files.fullChain, encoding: .utf8) == "LEAF\nINTERMEDIATE\n")
        #expect(try String(contentsOfFile: files.key, encoding: .utf8) == "KEY\n")
        #expect(try mode(files.key) == 0o600)
        #expect(try mode(files.certificate) == 0o644)
        #expect(try mode(scratch.path("www/tls")) == 0o700)
        // A second install replaces the files; no temporary file is left behind.
        try files.install(certificatePEM: "LEAF2", chainPEM: "", keyPEM: "KEY2")
        #expect(try String(contentsOfFile: files.key, encoding: .utf8) == "KEY2")
        #expect(try mode(files.key) == 0o600)
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.path("www/tls")).sorted()
            == ["cert.pem", "chain.pem", "fullchain.pem", "key.pem"])
    }

    @Test func installIntoAFileFailsClearlyAndWritesNothing() throws {
        let scratch = try ScratchFolder()
        try scratch.write("not a folder", to: "blocker")
        let files = CertificateFiles(directory: scratch.path("blocker"))
        let error = try #require(throws: AgentFileError.self) {
            try files.install(certificatePEM: "LEAF", chainPEM: "", keyPEM: "KEY")
        }
        #expect(error.description.contains("is not a directory"))
        // A folder the agent cannot write to: nothing is half-written.
        let locked = scratch.path("locked")
        try FileManager.default.createDirectory(atPath: locked, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o500])
        defer { try? FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: locked) }
        if getuid() != 0 {  // root ignores directory permissions
            #expect(throws: AgentFileError.self) {
                try CertificateFiles(directory: locked).install(certificatePEM: "LEAF", chainPEM: "", keyPEM: "KEY")
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: locked).isEmpty)
        }
    }

    @Test func postInstallCommandSucceedsFailsAndTimesOut() throws {
        let ok = try PostInstallCommand(command: "echo reloaded $CERTBUS_ENDPOINT", timeout: 10)
            .run(environment: ["CERTBUS_ENDPOINT": "web-1"])
        #expect(ok.succeeded)
        #expect(ok.output == "reloaded web-1\n")
        let failed = try PostInstallCommand(command: "echo 'nginx: config test failed' >&2; exit 3", timeout: 10).run()
        #expect(!failed.succeeded)
        #expect(failed.exitStatus == 3)
        #expect(failed.output.contains("config test failed"))
        // A command that hangs (with a child of its own) is killed with its whole process group.
        let hung = try PostInstallCommand(command: "sleep 30 & sleep 30", timeout: 0.3).run()
        #expect(hung.timedOut)
        #expect(hung.exitStatus == nil)
        #expect(!hung.succeeded)
    }
}
