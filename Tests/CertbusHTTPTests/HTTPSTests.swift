import CertbusTesting
import Foundation
import Testing

@testable import CertbusHTTP

/// The client against `openssl s_server -www` with certificates made by the openssl CLI.
@Suite struct HTTPSTests {
    let pki: TestCertificates

    init() throws {
        pki = try TestCertificates()
    }

    private func client(_ trust: TLSTrust) -> HTTPClient {
        HTTPClient(configuration: .init(trust: trust, connectTimeout: .seconds(5), requestTimeout: .seconds(20)))
    }

    private func tlsFailure(_ client: HTTPClient, _ url: String) async -> String? {
        let kind = await httpErrorKind { try await client.get(URL(string: url)!) }
        guard case .tlsHandshake(let reason) = kind else {
            Issue.record("expected a TLS handshake failure, got \(String(describing: kind))")
            return nil
        }
        return reason
    }

    @Test func succeedsWithTheRightCAByNameAndByIP() async throws {
        let server = try OpenSSLTestServer(certificate: pki.localhostCertificate, key: pki.localhostKey)
        let trusting = client(.caBundle(path: pki.caCertificate))
        for host in ["localhost", "127.0.0.1"] {
            let response = try await trusting.get(URL(string: "https://\(host):\(server.port)/")!)
            #expect(response.status == 200, "\(host)")
            #expect(response.bodyText?.contains("s_server") == true, "\(host)")
        }
    }

    @Test func trustCanBeGivenAsPEMText() async throws {
        let server = try OpenSSLTestServer(certificate: pki.localhostCertificate, key: pki.localhostKey)
        let pem = try String(contentsOfFile: pki.caCertificate, encoding: .utf8)
        let response = try await client(.certificates(pem: pem)).get(URL(string: "https://localhost:\(server.port)/")!)
        #expect(response.status == 200)
    }

    @Test func failsWithAnUnrelatedCA() async throws {
        let server = try OpenSSLTestServer(certificate: pki.localhostCertificate, key: pki.localhostKey)
        let reason = await tlsFailure(client(.caBundle(path: pki.otherCACertificate)), "https://localhost:\(server.port)/")
        #expect(reason == "certificate verify failed: unable to get local issuer certificate")
    }

    @Test func failsWithTheSystemStoreForAPrivateCA() async throws {
        let server = try OpenSSLTestServer(certificate: pki.localhostCertificate, key: pki.localhostKey)
        let reason = await tlsFailure(client(.systemDefault), "https://localhost:\(server.port)/")
        #expect(reason?.hasPrefix("certificate verify failed: ") == true)
    }

    @Test func failsWhenTheCertificateIsForAnotherName() async throws {
        let server = try OpenSSLTestServer(certificate: pki.otherNameCertificate, key: pki.otherNameKey)
        let trusting = client(.caBundle(path: pki.caCertificate))
        #expect(await tlsFailure(trusting, "https://localhost:\(server.port)/")
            == "certificate is not valid for localhost (host name mismatch)")
        #expect(await tlsFailure(trusting, "https://127.0.0.1:\(server.port)/")
            == "certificate is not valid for 127.0.0.1 (host name mismatch)")
    }

    @Test func plainHTTPToATLSPortIsNotASuccess() async throws {
        let server = try OpenSSLTestServer(certificate: pki.localhostCertificate, key: pki.localhostKey)
        let kind = await httpErrorKind {
            try await client(.systemDefault).get(URL(string: "http://127.0.0.1:\(server.port)/")!)
        }
        #expect(kind != nil)
    }

    @Test func unusableTrustFailsHTTPSRequestsClearlyButNotHTTP() async throws {
        let missing = client(.caBundle(path: pki.directory.appendingPathComponent("nope.pem").path))
        #expect(throws: HTTPError.self) { try missing.validateTrust() }
        let kind = await httpErrorKind { try await missing.get(URL(string: "https://localhost:1/")!) }
        guard case .tlsConfiguration(let reason) = kind else {
            Issue.record("expected tlsConfiguration, got \(String(describing: kind))")
            return
        }
        #expect(reason.contains("nope.pem") && reason.contains("does not exist"))

        let notPEM = client(.certificates(pem: "not a certificate"))
        #expect(throws: HTTPError.self) { try notPEM.validateTrust() }

        try await withServer(handler: { _ in .text("plain still works") }) { server in
            let response = try await missing.get(server.baseURL)
            #expect(response.bodyText == "plain still works")
        }
    }
}
