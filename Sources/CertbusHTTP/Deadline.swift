/// A point in monotonic time by which an operation must finish.
struct Deadline: Sendable, Comparable {
    /// The instant on the continuous (monotonic) clock.
    let instant: ContinuousClock.Instant

    /// The deadline `duration` from now.
    static func after(_ duration: Duration) -> Deadline {
        Deadline(instant: ContinuousClock.now.advanced(by: duration))
    }

    /// The earlier of two deadlines.
    static func earliest(_ a: Deadline, _ b: Deadline) -> Deadline { min(a, b) }

    static func < (lhs: Deadline, rhs: Deadline) -> Bool { lhs.instant < rhs.instant }

    /// Milliseconds left for `poll`, rounded up, clamped to `Int32`; 0 when passed.
    func remainingMilliseconds() -> Int32 {
        let left = ContinuousClock.now.duration(to: instant)
        if left <= .zero { return 0 }
        let (seconds, attoseconds) = left.components
        let millis = seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: max(1, millis))
    }

    /// Whether the deadline has passed.
    var hasPassed: Bool { ContinuousClock.now >= instant }
}
