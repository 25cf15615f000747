import CertbusCore
import Foundation
import Testing

@Suite struct RenewalWindowTests {
    let start = Date(timeIntervalSince1970: 1_700_000_000)
    let day: TimeInterval = 86400

    @Test func twoThirdsOfTheLifetimeWithoutJitter() {
        let window = RenewalWindow(maximumJitter: 0)
        let notAfter = start.addingTimeInterval(90 * day)
        let id = UUID()
        #expect(window.renewalTime(for: id, notBefore: start, notAfter: notAfter) == start.addingTimeInterval(60 * day))
    }

    @Test func fortySevenDayCertificatesRenewBeforeExpiry() {
        let window = RenewalWindow()
        let notAfter = start.addingTimeInterval(47 * day)
        for _ in 0..<200 {
            let at = window.renewalTime(for: UUID(), notBefore: start, notAfter: notAfter)
            #expect(at < notAfter.addingTimeInterval(-15 * day))
            #expect(at > start.addingTimeInterval(30 * day))
        }
    }

    @Test func profileLeadTimeIsUsedWhenShorterThanTheLifetime() {
        let window = RenewalWindow(renewBefore: 30 * day, maximumJitter: 0)
        let notAfter = start.addingTimeInterval(365 * day)
        #expect(window.baseRenewalTime(notBefore: start, notAfter: notAfter) == notAfter.addingTimeInterval(-30 * day))
    }

    @Test func leadTimeLongerThanTheLifetimeFallsBackToTwoThirds() {
        let window = RenewalWindow(renewBefore: 30 * day, maximumJitter: 0)
        let notAfter = start.addingTimeInterval(7 * day)
        // Renewing "30 days before expiry" of a 7-day certificate would renew at once, forever.
        #expect(window.baseRenewalTime(notBefore: start, notAfter: notAfter) == start.addingTimeInterval(7 * day * 2 / 3))
    }

    @Test func jitterIsStableForAnIdAndOnlyMovesRenewalEarlier() throws {
        let window = RenewalWindow()
        let notAfter = start.addingTimeInterval(90 * day)
        let id = try #require(UUID(uuidString: "6f1c2a7e-0d7b-4c59-9a2e-3b8e5f1d2c40"))
        let first = window.renewalTime(for: id, notBefore: start, notAfter: notAfter)
        let again = RenewalWindow().renewalTime(for: id, notBefore: start, notAfter: notAfter)
        #expect(first == again)
        let base = window.baseRenewalTime(notBefore: start, notAfter: notAfter)
        #expect(first <= base)
        #expect(first >= base.addingTimeInterval(-RenewalWindow.defaultMaximumJitter))
        // FNV-1a 64 reference vector: a change of the hash would reshuffle every renewal time.
        #expect(StableHash.fnv1a64([UInt8]("a".utf8)) == 0xaf63_dc4c_8601_ec8c)
        #expect(StableHash.unitFraction(of: id) != StableHash.unitFraction(of: UUID()))
    }

    @Test func certificatesIssuedTogetherSpreadOverTheJitterWindow() {
        let window = RenewalWindow()
        let notAfter = start.addingTimeInterval(90 * day)
        var minutes = Set<Int>()
        for _ in 0..<2000 {
            let at = window.renewalTime(for: UUID(), notBefore: start, notAfter: notAfter)
            minutes.insert(Int(at.timeIntervalSince1970 / 60))
        }
        // 6 hours = 360 distinct minutes; 2000 random ids cover nearly all of them.
        #expect(minutes.count > 300)
    }

    @Test func shortLifetimesGetProportionallySmallJitter() {
        let window = RenewalWindow()
        let notAfter = start.addingTimeInterval(3600)
        #expect(window.jitterSpan(notBefore: start, notAfter: notAfter) == 180)
        let at = window.renewalTime(for: UUID(), notBefore: start, notAfter: notAfter)
        #expect(at >= start.addingTimeInterval(2400 - 180))
        #expect(at <= start.addingTimeInterval(2400))
    }
}

@Suite struct RenewalRetryTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func backsOffExponentiallyUpToTwelveHours() {
        let retry = RenewalRetry()
        let far = now.addingTimeInterval(365 * 86400)
        #expect(retry.nextAttempt(afterFailures: 1, now: now, notAfter: far) == now.addingTimeInterval(900))
        #expect(retry.nextAttempt(afterFailures: 2, now: now, notAfter: far) == now.addingTimeInterval(1800))
        #expect(retry.nextAttempt(afterFailures: 20, now: now, notAfter: far) == now.addingTimeInterval(43_200))
    }

    @Test func retriesBeforeExpiryButNeverInATightLoop() {
        let retry = RenewalRetry()
        let soon = now.addingTimeInterval(3600)
        #expect(retry.nextAttempt(afterFailures: 10, now: now, notAfter: soon) == now.addingTimeInterval(1800))
        let expired = now.addingTimeInterval(-10)
        #expect(retry.nextAttempt(afterFailures: 1, now: now, notAfter: expired) == now.addingTimeInterval(900))
        let almost = now.addingTimeInterval(30)
        #expect(retry.nextAttempt(afterFailures: 1, now: now, notAfter: almost) == now.addingTimeInterval(60))
    }
}
