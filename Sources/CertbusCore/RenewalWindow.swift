import Foundation

/// When a certificate should be renewed automatically.
///
/// The base time is two thirds into the certificate's lifetime (which keeps working for short
/// 47-day certificates), or — when the RA profile sets `renew_before` — that long before expiry.
/// From the base a deterministic, per-certificate jitter is subtracted, derived only from the
/// certificate's id (stable across restarts), so thousands of certificates issued in the same
/// minute spread their renewals over a window instead of renewing all at once. The jitter only
/// ever moves renewal earlier, never past the configured point.
public struct RenewalWindow: Sendable, Equatable {
    /// The default fraction of the lifetime after which renewal is due.
    public static let defaultLifetimeFraction = 2.0 / 3.0
    /// The default upper bound of the jitter: 6 hours.
    public static let defaultMaximumJitter: TimeInterval = 6 * 3600
    /// The jitter never exceeds this fraction of the lifetime (1/20 = 5 %).
    public static let jitterLifetimeFraction = 1.0 / 20.0

    /// A fixed lead time before expiry (the profile's `renew_before`), or nil for two thirds.
    public var renewBefore: TimeInterval?
    /// The largest jitter applied to any certificate.
    public var maximumJitter: TimeInterval

    /// A window with an optional fixed lead time; `maximumJitter` defaults to 6 hours.
    public init(renewBefore: TimeInterval? = nil, maximumJitter: TimeInterval = RenewalWindow.defaultMaximumJitter) {
        self.renewBefore = renewBefore
        self.maximumJitter = max(0, maximumJitter)
    }

    /// The renewal time before jitter. A `renewBefore` that is not positive or not shorter than
    /// the lifetime would renew at once (and forever); it falls back to two thirds instead.
    public func baseRenewalTime(notBefore: Date, notAfter: Date) -> Date {
        let lifetime = max(0, notAfter.timeIntervalSince(notBefore))
        if let renewBefore, renewBefore > 0, renewBefore < lifetime {
            return notAfter.addingTimeInterval(-renewBefore)
        }
        return notBefore.addingTimeInterval(lifetime * Self.defaultLifetimeFraction)
    }

    /// The largest jitter for a certificate of this lifetime: `min(maximumJitter, lifetime / 20)`.
    public func jitterSpan(notBefore: Date, notAfter: Date) -> TimeInterval {
        let lifetime = max(0, notAfter.timeIntervalSince(notBefore))
        return min(maximumJitter, lifetime * Self.jitterLifetimeFraction)
    }

    /// The jitter of certificate `id`: a fixed fraction (from ``StableHash/unitFraction(of:)``)
    /// of the span, whole seconds.
    public func jitter(for id: UUID, notBefore: Date, notAfter: Date) -> TimeInterval {
        (StableHash.unitFraction(of: id) * jitterSpan(notBefore: notBefore, notAfter: notAfter)).rounded(.down)
    }

    /// The time automatic renewal of certificate `id` is due: the base time minus the jitter,
    /// never before `notBefore`, whole seconds.
    public func renewalTime(for id: UUID, notBefore: Date, notAfter: Date) -> Date {
        let base = baseRenewalTime(notBefore: notBefore, notAfter: notAfter)
        let jittered = base.addingTimeInterval(-jitter(for: id, notBefore: notBefore, notAfter: notAfter))
        let seconds = max(jittered, notBefore).timeIntervalSince1970.rounded(.down)
        return Date(timeIntervalSince1970: seconds)
    }
}
