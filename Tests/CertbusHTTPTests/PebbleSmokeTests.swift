import CertbusTesting
import Foundation
import Testing

import CertbusHTTP
import PKI

/// The client against Debian's pebble ACME test server (skipped when pebble is not installed).
@Suite(.enabled(if: PebbleServer.isInstalled, "needs /usr/bin/pebble (apt-get install pebble)"))
struct PebbleSmokeTests {
    @Test func fetchesTheDirectoryAndANonceOverTLSWithTheTestCA() async throws {
        let pebble = try PebbleServer(httpPort: try LoopbackPort.unused())
        let client = HTTPClient(configuration: .init(trust: .caBundle(path: pebble.caCertificate)))

        let directory = try await client.get(URL(string: "https://localhost:\(pebble.port)/dir")!)
        #expect(directory.status == 200)
        #expect(directory.headers["content-type"]?.hasPrefix("application/json") == true)
        let parsed = try JSONSerialization.jsonObject(with: directory.body)
        let json = try #require(parsed as? [String: Any])
        for key in ["newNonce", "newAccount", "newOrder", "revokeCert", "keyChange"] {
            #expect((json[key] as? String)?.hasPrefix("https://localhost:\(pebble.port)/") == true, "\(key)")
        }

        let newNonceText = try #require(json["newNonce"] as? String)
        let newNonce = try #require(URL(string: newNonceText))
        let nonce = try await client.send(HTTPClientRequest(method: .head, url: newNonce))
        #expect(nonce.status == 200)
        let value = try #require(nonce.headers["Replay-Nonce"])
        #expect(Base64URL.decode(value) != nil)

        let roots = try await client.get(URL(string: "https://127.0.0.1:\(pebble.managementPort)/roots/0")!)
        #expect(roots.bodyText?.hasPrefix("-----BEGIN CERTIFICATE-----") == true)

        let untrusting = HTTPClient(configuration: .init(trust: .systemDefault))
        do {
            _ = try await untrusting.get(URL(string: "https://localhost:\(pebble.port)/dir")!)
            Issue.record("pebble's certificate was trusted without the test CA")
        } catch {
            guard case .tlsHandshake = error.kind else {
                Issue.record("expected a TLS handshake failure, got \(error)")
                return
            }
        }
    }
}
