import CertbusHTTP
import CertbusTesting
import Foundation
import PKI
import Testing

/// Certificates issued through the command line (`ca create`, `profile create --template
/// tls-server-br`, `cert request --wait` taken by a `certbus worker`) in real TLS: served by
/// `openssl s_server` with the intermediate, verified by curl and by certbus's own HTTPS client
/// against the root alone; and a revoked one reported revoked by `openssl verify -crl_check`
/// against certbus's CRL. Each test has a database of its own and stops its worker and server.
/// Commands run on threads of their own (`onWorkerThread`), never blocking the cooperative pool.
@Suite(.serialized) struct IssuedCertificateTLSTests {
    /// A CA `tls` (root `tls-root`), a tls-server-br profile for localhost and www.example.com,
    /// and a worker; `issue` requests a certificate and exports it with its key.
    final class Issuing: @unchecked Sendable {
        let env: CertCommandLineTests.Environment
        let worker: CertbusCommand

        init(function: String = #function) throws {
            env = try CertCommandLineTests.Environment(function: function)
            try Self.check(try env.run([
                "ca", "create", "tls", "--org", "certbus tests", "--country", "DE", "--crl-url", "http://pki.example.com/{ca}.crl",
                "--ca-issuers-url", "http://pki.example.com/{ca}.crt",
            ]))
            try Self.check(try env.run([
                "profile", "create", "web", "--ca", "tls", "--template", "tls-server-br", "--domain", "localhost",
                "--domain", "www.example.com",
            ]))
            try env.scratch.write(try Self.pemBlocks(try Self.check(try env.run(["ca", "show", "tls-root", "--pem"])))[0], to: "root.pem")
            worker = try CertbusCommand(["worker", "--concurrency", "1"], environment: env.variables)
        }

        deinit {
            worker.kill()
            _ = worker.finish(timeout: 10)
        }

        /// Issues a certificate for localhost and www.example.com with a `keyType` key certbus
        /// generates; writes `<name>.pem`, `<name>.key` (exported once) and `<name>-chain.pem`
        /// (the intermediate) and returns the certificate's id.
        func issue(_ name: String, keyType: String) throws -> String {
            let requested = try Self.check(try env.run([
                "cert", "request", "--profile", "web", "--cn", "localhost", "--san", "www.example.com", "--key-type", keyType,
                "--wait", "--timeout", "120", "--json",
            ], timeout: 180))
            guard let object = try JSONSerialization.jsonObject(with: Data(requested.utf8)) as? [String: Any],
                  let id = object["id"] as? String else { throw TestServerFailure("no certificate id in \(requested)") }
            let exported = try Self.check(try env.run(["cert", "export", id, "--with-key", "--key-out", env.scratch.path("\(name).key")]))
            let blocks = Self.pemBlocks(exported)
            guard blocks.count == 3 else { throw TestServerFailure("expected leaf, intermediate and root: \(exported)") }
            try env.scratch.write(blocks[0], to: "\(name).pem")
            try env.scratch.write(blocks[1], to: "\(name)-chain.pem")
            return id
        }

        @discardableResult
        static func check(_ result: CommandResult) throws -> String {
            guard result.status == 0 else { throw TestServerFailure("certbus failed (\(result.status)): \(result.error)") }
            return result.output
        }

        /// The PEM certificate blocks in `text`, in order.
        static func pemBlocks(_ text: String) -> [String] {
            let end = "-----END CERTIFICATE-----"
            return text.components(separatedBy: "-----BEGIN CERTIFICATE-----").dropFirst().compactMap { part in
                part.range(of: end).map { "-----BEGIN CERTIFICATE-----" + part[..<$0.upperBound] + "\n" }
            }
        }
    }

    @Test(arguments: ["EC-P256", "RSA-2048"])
    func servedCertificateCompletesHandshakesWithCurlAndCertbusClient(_ keyType: String) async throws {
        let issuing = try await onWorkerThread { try Issuing() }
        let scratch = issuing.env.scratch
        _ = try await onWorkerThread { try issuing.issue("leaf", keyType: keyType) }
        let server = try OpenSSLTestServer(
            certificate: scratch.path("leaf.pem"), key: scratch.path("leaf.key"), chain: scratch.path("leaf-chain.pem"))

        // curl, trusting only the root, by the SAN www.example.com (resolved to loopback).
        let port = server.port
        let curl = try await onWorkerThread { try CurlCommand.capture(
            ["--silent", "--show-error", "--fail", "--max-time", "30", "--cacert", scratch.path("root.pem"),
             "--resolve", "www.example.com:\(port):127.0.0.1", "https://www.example.com:\(port)/"]) }
        #expect(curl.status == 0, "\(curl.combined)")
        #expect(curl.output.contains("s_server"), "\(curl.output)")
        // Without the root, curl refuses: the handshake above really verified the chain.
        let other = try OpenSSLTestPKI()
        let otherCA = try other.makeCA("other", commonName: "Other Root")
        let untrusted = try await onWorkerThread { try CurlCommand.capture(
            ["--silent", "--show-error", "--max-time", "30", "--cacert", otherCA.certificate,
             "--resolve", "www.example.com:\(port):127.0.0.1", "https://www.example.com:\(port)/"]) }
        #expect(untrusted.status == 60, "curl should fail verification: \(untrusted.combined)")

        // certbus's own client (OpenSSL, hostname checked), by the common name localhost.
        let client = HTTPClient(configuration: .init(trust: .caBundle(path: scratch.path("root.pem"))))
        let response = try await client.get(URL(string: "https://localhost:\(server.port)/")!)
        #expect(response.status == 200)
        #expect(response.bodyText?.contains("s_server") == true)
        let stranger = HTTPClient(configuration: .init(trust: .caBundle(path: otherCA.certificate)))
        await #expect(throws: HTTPError.self) { _ = try await stranger.get(URL(string: "https://localhost:\(server.port)/")!) }
    }

    @Test func revokedCertificateIsReportedRevokedAgainstCertbusCRL() async throws {
        let issuing = try await onWorkerThread { try Issuing() }
        let scratch = issuing.env.scratch
        let id = try await onWorkerThread { try issuing.issue("leaf", keyType: "EC-P256") }
        @Sendable func verify() throws -> CommandResult {
            try scratch.write(try Issuing.check(try issuing.env.run(["ca", "crl", "tls"])) + "\n", to: "tls.crl")
            try scratch.write(try Issuing.check(try issuing.env.run(["ca", "crl", "tls-root"])) + "\n", to: "tls-root.crl")
            return try CertOpenSSL.run(
                ["verify", "-crl_check_all", "-CAfile", "root.pem", "-untrusted", "leaf-chain.pem", "-CRLfile", "tls.crl",
                 "-CRLfile", "tls-root.crl", "-purpose", "sslserver", "leaf.pem"], in: scratch)
        }
        let before = try await onWorkerThread { try verify() }
        #expect(before.status == 0, "\(before.combined)")
        #expect(before.output.contains("leaf.pem: OK"))

        let after = try await onWorkerThread {
            try Issuing.check(try issuing.env.run(["cert", "revoke", id, "--reason", "keyCompromise", "--wait"], timeout: 180))
            return try verify()
        }
        #expect(after.status != 0)
        #expect(after.combined.contains("certificate revoked"), "\(after.combined)")
        let crl = try CertOpenSSL.run(["crl", "-in", "tls.crl", "-noout", "-text"], in: scratch)
        let serial = try CertOpenSSL.run(["x509", "-in", "leaf.pem", "-noout", "-serial"], in: scratch).output
            .replacingOccurrences(of: "serial=", with: "").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(crl.output.contains("Serial Number: \(serial)"), "\(crl.output)")
        #expect(crl.output.contains("Key Compromise"))
        #expect(try CertificateRevocationList(pem: try scratch.read("tls.crl")).crlNumber == 2)
    }
}
