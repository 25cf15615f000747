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
