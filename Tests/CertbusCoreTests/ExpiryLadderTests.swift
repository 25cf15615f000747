import CertbusCore
import Foundation
import Testing

/// The expiry ladder: steps in days for normal lifetimes, fractions of the lifetime for short-lived ones.
@Suite struct ExpiryLadderTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let ladder = ExpiryLadder(days: ExpiryLadder.defaultSteps)

    func position(lifetimeDays: Double, daysLeft: Double) -> ExpiryLadder.Position {
        let notAfter = now.addingTimeInterval(daysLeft * 86400)
        return ladder.position(notBefore: notAfter.addingTimeInterval(-lifetimeDays * 86400), notAfter: notAfter, now: now)
    }

    @Test func stepsNormalisedLargestFirst() {
        #expect(ExpiryLadder(days: [7, 30, 0, -3, 14, 7, 1]).steps == [30, 14, 7, 1])
        #expect(ExpiryLadder(days: []).steps == [])
    }

    @Test func ninetyDayCertificateUsesDays() {
        #expect(position(lifetimeDays: 90, daysLeft: 45) == .outside)
        #expect(position(lifetimeDays: 90, daysLeft: 30.5) == .outside)
        #expect(position(lifetimeDays: 90, daysLeft: 30) == .step(days: 30))
        #expect(position(lifetimeDays: 90, daysLeft: 20) == .step(days: 30))
        #expect(position(lifetimeDays: 90, daysLeft: 14) == .step(days: 14))
        #expect(position(lifetimeDays: 90, daysLeft: 6.9) == .step(days: 7))
        #expect(position(lifetimeDays: 90, daysLeft: 0.5) == .step(days: 1))
        #expect(position(lifetimeDays: 90, daysLeft: 0) == .expired)
        #expect(position(lifetimeDays: 90, daysLeft: -3) == .expired)
    }

    @Test func shortLivedCertificateScalesStepsToItsLifetime() {
        // 6-day certificate, default ladder: scale 6 / 60 = 0.1 → steps at 3 d, 1.4 d, 0.7 d, 0.1 d left.
        let notAfter = now.addingTimeInterval(6 * 86400)
        let notBefore = now
        #expect(abs(ladder.scale(notBefore: notBefore, notAfter: notAfter) - 0.1) < 1e-12)
        #expect(position(lifetimeDays: 6, daysLeft: 3.1) == .outside)
        #expect(position(lifetimeDays: 6, daysLeft: 3) == .step(days: 30))
        #expect(position(lifetimeDays: 6, daysLeft: 1.3) == .step(days: 14))
        #expect(position(lifetimeDays: 6, daysLeft: 0.5) == .step(days: 7))
        #expect(position(lifetimeDays: 6, daysLeft: 0.09) == .step(days: 1))
        #expect(ladder.firstThresholdDate(notBefore: notBefore, notAfter: notAfter) == now.addingTimeInterval(3 * 86400))
    }

    @Test func scalingIsContinuousAtTwiceTheLargestStep() {
        #expect(ladder.scale(notBefore: now, notAfter: now.addingTimeInterval(60 * 86400)) == 1)
        #expect(ladder.scale(notBefore: now, notAfter: now.addingTimeInterval(59 * 86400)) < 1)
        #expect(ladder.scale(notBefore: now, notAfter: now.addingTimeInterval(400 * 86400)) == 1)
    }

    @Test func emptyLadderNeverEntersButStillExpires() {
        let empty = ExpiryLadder(days: [])
        let notAfter = now.addingTimeInterval(3600)
        #expect(empty.position(notBefore: now.addingTimeInterval(-86400 * 90), notAfter: notAfter, now: now) == .outside)
        #expect(empty.position(notBefore: now.addingTimeInterval(-86400 * 90), notAfter: now, now: now) == .expired)
        #expect(empty.firstThresholdDate(notBefore: now, notAfter: notAfter) == nil)
    }

    @Test func severityAndCauseKeys() {
        #expect(ladder.severity(forStep: 30) == .warn)
        #expect(ladder.severity(forStep: 1) == .error)
        #expect(ExpiryLadder(days: [10]).severity(forStep: 10) == .warn)
        let id = UUID(uuidString: "0F0E0D0C-0B0A-0908-0706-050403020100")!
        #expect(ExpiryLadder.causeKey(certificateId: id, position: .step(days: 7)) == "expiry:0f0e0d0c-0b0a-0908-0706-050403020100:7d")
        #expect(ExpiryLadder.causeKey(certificateId: id, position: .expired) == "expiry:0f0e0d0c-0b0a-0908-0706-050403020100:expired")
        #expect(ExpiryLadder.causeKey(certificateId: id, position: .outside) == nil)
    }
}
