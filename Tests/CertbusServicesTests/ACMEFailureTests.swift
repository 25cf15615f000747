import CertbusCore
import CertbusHTTP
import CertbusTesting
import Foundation
import PKI
import Testing

@testable import CertbusServices

/// What the client reports when issuance cannot succeed: the CA's problem, the failed step's
/// automation status, and whether retrying can help.
@Suite struct ACMEFailureTests {
    @Test func aChallengeNobodyServesEndsInValidationFailedWithPebblesDetail() async throws {
        // pebble validates on a port where nothing listens (port 80 not forwarded, in real life).
        let fixture = try ACMETestFixture(responderRunning: false)
        let responder = ACMEHTTP01Responder(host: "127.0.0.1", port: 0)
        try responder.start()
        defer { responder.stop() }
        let client = try fixture.client()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        let progress = ProgressRecorder()

        let error = await #expect(throws: ACMEError.self) {
            try await client.issue(csr: csr, responder: responder, progress: progress.handler)
        }

        #expect(error?.failedStatus == .validationFailed)
        #expect(error?.isRetryable == false)
        guard case .validationFailed(let identifier, let problem) = error?.kind else {
            Issue.record("expected a validation failure, got \(String(describing: error))")
            return
        }
        #expect(identifier == "localhost")
        #expect(problem?.is("connection") == true)
        #expect(problem?.detail?.contains("127.0.0.1:\(fixture.pebble.httpPort)") == true)
        #expect(progress.statuses == [.creatingAccount, .accountCreated, .validatingDomain, .validationFailed])
        #expect(progress.detail(of: .validationFailed)?.contains("validation of localhost failed") == true)
        #expect(progress.orders.count == 1)
    }

    @Test func aBlockedNameGivesRejectedIdentifier() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let name = "shop.\(PebbleServer.blockedDomain)"
        let (csr, _) = try ACMETestFixture.csr(for: [name])
        let progress = ProgressRecorder()

        let error = await #expect(throws: ACMEError.self) {
            try await client.issue(csr: csr, responder: fixture.responder, progress: progress.handler)
        }

        #expect(error?.problem?.type == "urn:ietf:params:acme:error:rejectedIdentifier")
        #expect(error?.problem?.detail?.isEmpty == false)
        #expect(error?.failedStatus == .validationFailed)
        #expect(error?.isRetryable == false)
        #expect(error?.description.contains("place order for \(name)") == true)
        #expect(progress.orders.isEmpty)
    }

    @Test func aWildcardNameHasNoHTTP01Challenge() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (csr, _) = try ACMETestFixture.csr(for: ["*.certbus.test"])

        let error = await #expect(throws: ACMEError.self) {
            try await client.issue(csr: csr, responder: fixture.responder)
        }

        guard case .unsupportedChallenge(let identifier, let offered) = error?.kind else {
            Issue.record("expected an unsupported challenge, got \(String(describing: error))")
            return
        }
        #expect(identifier == "certbus.test")
        #expect(offered == ["dns-01"])
        #expect(error?.failedStatus == .validationFailed)
        #expect(error?.isRetryable == false)
    }

    @Test func aCAThatIsDownGivesARetryableConnectionError() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        fixture.pebble.kill()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        let progress = ProgressRecorder()

        let error = await #expect(throws: ACMEError.self) {
            try await client.issue(csr: csr, responder: fixture.responder, progress: progress.handler)
        }

        guard case .transport(let http) = error?.kind else {
            Issue.record("expected a transport error, got \(String(describing: error))")
            return
        }
        #expect(http.kind == .connectionRefused)
        #expect(error?.isRetryable == true)
        #expect(error?.failedStatus == .accountCreationFailed)
        #expect(error?.description.contains("connection refused") == true)
        #expect(error?.description.contains("fetch ACME directory https://localhost:\(fixture.pebble.port)/dir") == true)
        #expect(progress.statuses == [.creatingAccount, .accountCreationFailed])
    }

    @Test func aCAThatGoesDownAfterTheAccountFailsTheValidationStep() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        _ = try await client.account()
        fixture.pebble.kill()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])

        let error = await #expect(throws: ACMEError.self) {
            try await client.issue(csr: csr, responder: fixture.responder)
        }

        #expect(error?.failedStatus == .validationFailed)
        #expect(error?.isRetryable == true)
        #expect(error?.kind == .transport(HTTPError(.connectionRefused, method: "POST",
                                                    url: "https://localhost:\(fixture.pebble.port)/order-plz")))
    }

    @Test func anUntrustedCAIsAPermanentTLSError() async throws {
        let fixture = try ACMETestFixture()
        let configuration = try ACMEClientConfiguration(directoryURL: fixture.pebble.directoryURL, trust: .systemDefault)
        let client = try ACMEClient(configuration: configuration, accountKey: PrivateKey.generate(.ecdsaP256))

        let error = await #expect(throws: ACMEError.self) { try await client.directory() }

        guard case .transport(let http) = error?.kind, case .tlsHandshake = http.kind else {
            Issue.record("expected a TLS handshake failure, got \(String(describing: error))")
            return
        }
        #expect(error?.isRetryable == false)
    }

    @Test func aURLThatServesNoDirectoryIsABadResponse() async throws {
        let fixture = try ACMETestFixture()
        let configuration = try ACMEClientConfiguration(
            directoryURL: fixture.pebble.managementURL("roots/0").absoluteString,
            trust: .caBundle(path: fixture.pebble.caCertificate))
        let client = try ACMEClient(configuration: configuration, accountKey: PrivateKey.generate(.ecdsaP256))

        let error = await #expect(throws: ACMEError.self) { try await client.directory() }

        guard case .badResponse(let why) = error?.kind else {
            Issue.record("expected a bad response, got \(String(describing: error))")
            return
        }
        #expect(why.hasPrefix("not an ACME directory (not JSON): -----BEGIN CERTIFICATE-----"))

        let missing = try ACMEClient(
            configuration: ACMEClientConfiguration(
                directoryURL: "https://localhost:\(fixture.pebble.port)/no-such-directory",
                trust: .caBundle(path: fixture.pebble.caCertificate)),
            accountKey: PrivateKey.generate(.ecdsaP256))
        let notFound = await #expect(throws: ACMEError.self) { try await missing.directory() }
        guard case .badResponse(let text) = notFound?.kind else {
            Issue.record("expected a bad response, got \(String(describing: notFound))")
            return
        }
        #expect(text.hasPrefix("HTTP 404"))
    }

    @Test func aRejectedNonceIsRetriedOnceWithTheFreshNonce() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        _ = try await client.account()
        client.nonces.add("bm90LWEtbm9uY2UtcGViYmxlLWdhdmU")  // well-formed, never issued by pebble

        let issued = try await client.issue(csr: csr, responder: fixture.responder)

        #expect(issued.leaf.dnsNames == ["localhost"])
        #expect(client.badNonceRetryCount == 1)
    }

    @Test func aCAThatKeepsRejectingNoncesGivesARetryableBadNonce() async throws {
        let fixture = try ACMETestFixture(nonceRejectPercent: 100)
        let client = try fixture.client()

        let error = await #expect(throws: ACMEError.self) { try await client.account() }

        #expect(error?.problem?.is("badNonce") == true)
        #expect(error?.isRetryable == true)
        #expect(client.badNonceRetryCount == 1)
    }
}
