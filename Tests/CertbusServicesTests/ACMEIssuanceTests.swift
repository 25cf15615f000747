import CertbusCore
import CertbusHTTP
import Foundation
import PKI
import Testing

@testable import CertbusServices

/// End-to-end issuance and revocation against pebble, with certbus's own http-01 responder.
@Suite struct ACMEIssuanceTests {
    @Test func issuesForLocalhostWithAChainThatVerifiesAgainstPebblesRoot() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (csr, key) = try ACMETestFixture.csr(for: ["localhost"])
        let progress = ProgressRecorder()

        let issued = try await client.issue(csr: csr, responder: fixture.responder, progress: progress.handler)

        #expect(progress.statuses == [
            .creatingAccount, .accountCreated, .validatingDomain, .domainValidated, .issuingCertificate,
            .certificateIssued,
        ])
        #expect(progress.orders.map(\.0) == [issued.orderURL])
        #expect(progress.orders.map(\.1) == [false])
        #expect(issued.orderURL.absoluteString.hasPrefix("https://localhost:\(fixture.pebble.port)/"))
        #expect(issued.leaf.dnsNames == ["localhost"])
        #expect(issued.leaf.matches(key))
        #expect(issued.chain.count >= 2)
        #expect(try issued.leaf.verify(issuer: issued.chain[1]) == ())
        #expect(issued.pemChain.hasPrefix("-----BEGIN CERTIFICATE-----"))
        let verification = try await fixture.verifyWithOpenSSL(issued)
        #expect(verification.contains(": OK"))

        // The account exists now: a second issuance skips the account statuses.
        let again = ProgressRecorder()
        let second = try await client.issue(csr: csr, responder: fixture.responder, progress: again.handler)
        #expect(again.statuses.first == .validatingDomain)
        #expect(second.orderURL != issued.orderURL)
        #expect(second.leaf.serialNumberHex != issued.leaf.serialNumberHex)
    }
}

/// Issuance for names other than localhost (pebble resolves them through challtestsrv) and
/// resuming orders by URL.
@Suite struct ACMEOrderTests {
    @Test func issuesForTwoNamesResolvedThroughChallTestSrv() async throws {
        let fixture = try ACMETestFixture(withDNS: true)
        let client = try fixture.client()
        let (csr, key) = try ACMETestFixture.csr(for: ["www.certbus.test", "certbus.test"])
        let progress = ProgressRecorder()

        let issued: ACMEIssuedCertificate
        do {
            issued = try await client.issue(csr: csr, responder: fixture.responder, progress: progress.handler)
        } catch {
            Issue.record("\(error)\npebble said:\n\(fixture.pebble.log)")
            return
        }

        #expect(Set(issued.leaf.dnsNames) == ["www.certbus.test", "certbus.test"])
        #expect(issued.leaf.matches(key))
        #expect(progress.statuses.last == .certificateIssued)
        #expect(progress.detail(of: .domainValidated) == "Validated www.certbus.test, certbus.test")
        #expect(try await fixture.verifyWithOpenSSL(issued).contains(": OK"))
    }

    @Test func issuesForAnIPAddressIdentifier() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let key = try PrivateKey.generate(.ecdsaP256)
        let csr = try CertificateSigningRequest.create(
            key: key, subject: DistinguishedName(), subjectAlternativeNames: [.ipAddress(IPAddress("127.0.0.1")!)])

        let issued = try await client.issue(csr: csr, responder: fixture.responder)

        #expect(issued.leaf.subjectAlternativeNames == [.ipAddress(IPAddress("127.0.0.1")!)])
        #expect(try await fixture.verifyWithOpenSSL(issued).contains(": OK"))
    }

    @Test func resumesAPlacedOrderInsteadOfPlacingANewOne() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        // A first attempt placed the order and then crashed.
        let (orderURL, order) = try await client.placeOrder(for: [.dns("localhost")])
        #expect(order.status == .pending)

        let progress = ProgressRecorder()
        let issued = try await client.issue(
            csr: csr, responder: fixture.responder, resumingOrder: orderURL, progress: progress.handler)

        #expect(issued.orderURL == orderURL)
        #expect(progress.orders.map(\.0) == [orderURL])
        #expect(progress.orders.map(\.1) == [true])
        #expect(try await client.order(at: orderURL).status == .valid)
    }

    @Test func resumingAnIssuedOrderDownloadsTheSameCertificateAgain() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        let first = try await client.issue(csr: csr, responder: fixture.responder)

        // The commit after the CA's answer was lost; the retried job resumes the order.
        let progress = ProgressRecorder()
        let again = try await client.issue(
            csr: csr, responder: fixture.responder, resumingOrder: first.orderURL, progress: progress.handler)

        #expect(again.orderURL == first.orderURL)
        #expect(again.leaf == first.leaf)
        #expect(progress.orders.map(\.1) == [true])
        #expect(progress.statuses.last == .certificateIssued)
    }

    @Test func resumingAnInvalidOrderPlacesANewOne() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        let (orderURL, _) = try await client.placeOrder(for: [.dns("localhost")])
        // Make the order invalid: validation fails while nothing answers the challenge.
        let failed = await #expect(throws: ACMEError.self) {
            try await client.issue(csr: csr, responder: NonAnsweringResponder(), resumingOrder: orderURL)
        }
        #expect(failed?.failedStatus == .validationFailed)
        #expect(try await client.order(at: orderURL).status == .invalid)

        let progress = ProgressRecorder()
        let issued = try await client.issue(
            csr: csr, responder: fixture.responder, resumingOrder: orderURL, progress: progress.handler)

        #expect(issued.orderURL != orderURL)
        #expect(progress.orders.map(\.1) == [false])
    }

    @Test func refusesToResumeAnOrderForOtherNames() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (orderURL, _) = try await client.placeOrder(for: [.dns("localhost")])
        let (csr, _) = try ACMETestFixture.csr(for: ["other.certbus.test"])

        let error = await #expect(throws: ACMEError.self) {
            try await client.issue(csr: csr, responder: fixture.responder, resumingOrder: orderURL)
        }
        guard case .invalidConfiguration(let why) = error?.kind else {
            Issue.record("expected a configuration error, got \(String(describing: error))")
            return
        }
        #expect(why.contains("is for localhost, not for other.certbus.test"))
        #expect(error?.isRetryable == false)
        #expect(try await client.order(at: orderURL).status == .pending)
    }
}

/// A responder that accepts every token but serves nothing (its port is not where the CA looks).
struct NonAnsweringResponder: ACMEChallengeResponder {
    var challengeType: String { "http-01" }
    func present(identifier: ACMEIdentifier, token: String, keyAuthorization: String) throws(ACMEError) {}
    func remove(token: String) {}
}
