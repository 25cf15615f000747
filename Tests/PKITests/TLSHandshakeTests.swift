import Foundation
import Testing
@testable import PKI

/// A real TLS handshake: `openssl s_server` presents a leaf we issued (plus our intermediate),
/// `openssl s_client` verifies it against our root.
@Suite struct TLSHandshakeTests {
    /// An `openssl s_server -www` on 127.0.0.1, stopped on deinit.
    final class Server {
        let process = Process()
        let port: UInt16

        init(scratch: ScratchDirectory) throws {
            port = try LocalPort.free()
            process.executableURL = URL(fileURLWithPath: OpenSSLTool.path)
            process.arguments = ["s_server", "-accept", "127.0.0.1:\(port)", "-cert", "leaf.pem", "-key", "leaf.key",
                                 "-cert_chain", "intermediate.pem", "-www", "-quiet"]
            process.currentDirectoryURL = scratch.url
            process.standardInput = FileHandle.nullDevice
            process.standardOutput = FileHandle.nullDevice
            process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: scratch.write("", to: "server.err")))
            try process.run()
            let deadline = Date().addingTimeInterval(10)
            while !LocalPort.isAccepting(port) {
                guard process.isRunning, Date() < deadline else {
                    throw PKIError(.internalFailure, operation: "start s_server", message: "s_server did not start listening")
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        deinit {
            // Processes spawned from dispatch worker threads inherit a mask that blocks SIGTERM,
            // so stop our own s_server with SIGKILL, by its pid.
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
            }
        }
    }

    private func connect(port: UInt16, trusting rootFile: String, name: String, in scratch: ScratchDirectory) throws -> OpenSSLTool.Result {
        try OpenSSLTool.run(
            ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", rootFile, "-verify_return_error", "-ign_eof",
             "-servername", name, "-verify_hostname", name],
            input: Data("GET / HTTP/1.0\r\n\r\n".utf8), in: scratch.url)
    }

    @Test(arguments: [KeyAlgorithm.ecdsaP256, .rsa(bits: 2048)])
    func handshakeVerifiesAgainstOurRoot(_ leafAlgorithm: KeyAlgorithm) throws {
        let pki = try TestHierarchy()
        let (key, leaf) = try pki.issueLeaf(dnsName: "www.example.test", algorithm: leafAlgorithm)
        let scratch = try ScratchDirectory()
        try pki.writeCAs(to: scratch)
        try scratch.write(leaf.pem, to: "leaf.pem")
        try scratch.write(key.pkcs8PEM(), to: "leaf.key")
        let server = try Server(scratch: scratch)

        let result = try connect(port: server.port, trusting: "root.pem", name: "www.example.test", in: scratch)
        #expect(result.status == 0, "\(result.combined)")
        #expect(result.output.contains("Verify return code: 0 (ok)"), "\(result.combined)")
        #expect(result.output.contains("HTTP/1.0 200 ok"))
        #expect(result.output.contains("subject=CN = www.example.test"))

        // The same server, checked by IP SAN.
        let byIP = try OpenSSLTool.run(
            ["s_client", "-connect", "127.0.0.1:\(server.port)", "-CAfile", "root.pem", "-verify_return_error", "-ign_eof",
             "-verify_ip", "127.0.0.1"],
            input: Data("GET / HTTP/1.0\r\n\r\n".utf8), in: scratch.url)
        #expect(byIP.output.contains("Verify return code: 0 (ok)"), "\(byIP.combined)")
    }

    @Test func handshakeFailsForAnotherRootOrName() throws {
        let pki = try TestHierarchy()
        let stranger = try TestHierarchy()
        let (key, leaf) = try pki.issueLeaf(dnsName: "www.example.test")
        let scratch = try ScratchDirectory()
        try pki.writeCAs(to: scratch)
        try scratch.write(stranger.root.certificate.pem, to: "stranger.pem")
        try scratch.write(leaf.pem, to: "leaf.pem")
        try scratch.write(key.pkcs8PEM(), to: "leaf.key")
        let server = try Server(scratch: scratch)

        let wrongRoot = try connect(port: server.port, trusting: "stranger.pem", name: "www.example.test", in: scratch)
        #expect(wrongRoot.status != 0)
        #expect(wrongRoot.combined.contains("unable to get local issuer certificate"))

        let wrongName = try connect(port: server.port, trusting: "root.pem", name: "other.example.test", in: scratch)
        #expect(wrongName.status != 0)
        #expect(wrongName.combined.contains("hostname mismatch"))
    }
}
