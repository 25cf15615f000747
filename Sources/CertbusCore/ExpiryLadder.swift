import Foundation

/// The expiry alert ladder of an RA profile (`ra_profiles.expiry_alert_days`, default 30/14/7/1 days)
/// and the rule for short-lived certificates. Mirrored in SQL by `certbus.expiry_ladder_step` (the
/// tests check both agree).
///
/// Rule: with `largest` the biggest step, a certificate whose lifetime is at least `2 × largest` days uses
/// the steps as days before expiry. A shorter-lived certificate scales every step by
/// `lifetime / (2 × largest)`, i.e. each step becomes a fraction of its lifetime (default ladder: 50%,
/// 23.3%, 11.7% and 1.7% of the lifetime left). The two agree at `lifetime = 2 × largest`.
/// A certificate is *inside its threshold* once it crosses the first (largest) step; the step crossed
/// is the smallest one whose threshold the remaining time has reached.
public struct ExpiryLadder: Sendable, Equatable {
    /// The ladder used for certificates without a profile.
    public static let defaultSteps = [30, 14, 7, 1]

    /// Positive steps in days, largest first, without duplicates. Empty: no expiry alerts or EXPIRING status.
    public let steps: [Int]

    /// A ladder from a profile's `expiry_alert_days`; non-positive entries and duplicates are dropped.
    public init(days: [Int]) {
        steps = Array(Set(days.filter { $0 > 0 })).sorted(by: >)
    }

    /// Where a certificate stands on the ladder at a moment.
    public enum Position: Sendable, Equatable {
        /// Not yet inside the first step.
        case outside
        /// Inside the ladder: the smallest step crossed, in days (the step's label, before scaling).
        case step(days: Int)
        /// At or past `notAfter`.
        case expired
    }

    /// Factor applied to every step for a certificate of this lifetime (1 unless short-lived).
    public func scale(notBefore: Date, notAfter: Date) -> Double {
        guard let largest = steps.first else { return 1 }
        let lifetime = notAfter.timeIntervalSince(notBefore)
        let full = Double(2 * largest) * 86400
        return lifetime >= full ? 1 : max(0, lifetime) / full
    }

    /// How long before `notAfter` the given step fires for this certificate, in seconds.
    public func threshold(days: Int, notBefore: Date, notAfter: Date) -> Double {
        Double(days) * 86400 * scale(notBefore: notBefore, notAfter: notAfter)
    }

    /// The certificate's position at `now`.
    public func position(notBefore: Date, notAfter: Date, now: Date) -> Position {
        let remaining = notAfter.timeIntervalSince(now)
        if remaining <= 0 { return .expired }
        // Same arithmetic as certbus.expiry_ladder_position: the remaining time in scaled days, compared with each step.
        let scaledDays = remaining / (86400 * scale(notBefore: notBefore, notAfter: notAfter))
        let crossed = steps.filter { scaledDays <= Double($0) }
        guard let deepest = crossed.min() else { return .outside }
        return .step(days: deepest)
    }

    /// The moment the first step fires (the certificate becomes EXPIRING), or nil for an empty ladder.
    public func firstThresholdDate(notBefore: Date, notAfter: Date) -> Date? {
        guard let largest = steps.first else { return nil }
        return notAfter.addingTimeInterval(-threshold(days: largest, notBefore: notBefore, notAfter: notAfter))
    }

    /// Severity of an EXPIRING_SOON alert for a step: ERROR for the last (smallest) step of a ladder with more
    /// than one step, WARN otherwise.
    public func severity(forStep days: Int) -> AlertSeverity {
        steps.count > 1 && days == steps.last ? .error : .warn
    }

    /// The cause key of the alert for a step: `expiry:<certificate id>:<days>d`, or `...:expired`.
    public static func causeKey(certificateId: UUID, position: Position) -> String? {
        let id = certificateId.uuidString.lowercased()
        switch position {
        case .outside: return nil
        case .step(let days): return "expiry:\(id):\(days)d"
        case .expired: return "expiry:\(id):expired"
        }
    }
}
