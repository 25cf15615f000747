import CertbusCore
import Foundation
import PKI
import Testing

@testable import CertbusServices

/// Revocation against pebble.
@Suite struct ACMERevocationTests {
    @Test func revokesOnceAndASecondRevocationGivesTheCAsProblem() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        let issued = try await client.issue(csr: csr, responder: fixture.responder)

        // Another account may not revoke it.
        let stranger = try fixture.client()
        let refused = await #expect(throws: ACMEError.self) { try await stranger.revoke(issued.leaf, reasonCode: 1) }
        #expect(refused?.problem?.is("unauthorized") == true)
        #expect(refused?.problem?.status == 403)
        #expect(refused?.isRetryable == false)

        try await client.revoke(issued.leaf, reasonCode: 1)  // keyCompromise

        let again = await #expect(throws: ACMEError.self) { try await client.revoke(issued.leaf, reasonCode: 1) }
        #expect(again?.problem?.type == "urn:ietf:params:acme:error:alreadyRevoked")
        #expect(again?.problem?.detail?.isEmpty == false)
        #expect(again?.isRetryable == false)
        #expect(again?.failedStatus == nil)
        #expect(again?.description.contains("alreadyRevoked") == true)
    }

    @Test func refusesReasonCodesOutsideRFC5280BeforeAskingTheCA() async throws {
        let fixture = try ACMETestFixture()
        let client = try fixture.client()
        let (csr, _) = try ACMETestFixture.csr(for: ["localhost"])
        let issued = try await client.issue(csr: csr, responder: fixture.responder)

        for code in [7, 11, -1] {
            let error = await #expect(throws: ACMEError.self) { try await client.revoke(issued.leaf, reasonCode: code) }
            guard case .invalidConfiguration(let why) = error?.kind else {
                Issue.record("code \(code): expected a configuration error, got \(String(describing: error))")
                continue
            }
            #expect(why.contains("\(code) is not an RFC 5280 revocation reason code"))
        }
        // Nothing was revoked: a valid revocation still succeeds.
        try await client.revoke(issued.leaf, reason: .superseded)
    }
}
