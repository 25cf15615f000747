import Foundation

/// When and how urgently each renewal of an incident runs, from its deadline and its size.
///
/// - **Order**: the most exposed certificates first (deployed on the most endpoints), then the
///   earliest expiring, then by id (so the same set always gets the same plan).
/// - **Priority** (job priority, lower runs first; routine work uses 100): a band chosen by the time
///   left to the deadline — 10–19 within an hour, 20–29 within a day, 40–49 within a week, 60–69
///   later — and inside the band the first tenth of the order gets the band's lowest number, the
///   last tenth its highest. Incident renewals therefore overtake routine work, and a tighter
///   incident overtakes a looser one.
/// - **Start times**: waves of `waveSize` renewals; wave *k* of *w* starts at now + spread × k / w,
///   so the last wave starts before now + spread. The default spread is a quarter of the time to
///   the deadline, at most one hour (a single wave starts at once); it may be at most half the time
///   to the deadline, leaving the other half for installation, validation, revocation and retries.
public struct IncidentSchedule: Sendable, Equatable {
    /// A certificate to renew.
    public struct Candidate: Sendable, Equatable {
        public var id: UUID
        public var notAfter: Date
        /// Endpoints it is deployed on.
        public var endpoints: Int

        public init(id: UUID, notAfter: Date, endpoints: Int) {
            self.id = id
            self.notAfter = notAfter
            self.endpoints = endpoints
        }
    }

    /// A planned renewal.
    public struct Slot: Sendable, Equatable {
        public var id: UUID
        /// 0 for the first to run.
        public var position: Int
        /// Job priority (lower runs first).
        public var priority: Int
        /// Earliest start.
        public var runAt: Date
        /// 0-based wave number.
        public var wave: Int
    }

    /// The renewals in order.
    public let slots: [Slot]
    /// When the plan was made.
    public let now: Date
    /// When everything should be replaced.
    public let deadline: Date
    /// Seconds over which the waves start.
    public let spread: TimeInterval
    /// Number of waves.
    public let waves: Int

    /// The latest start of a renewal (now when empty).
    public var lastStart: Date { slots.map(\.runAt).max() ?? now }
    /// Time left between the last start and the deadline.
    public var margin: TimeInterval { deadline.timeIntervalSince(lastStart) }
    /// The priority band's lowest number for this time to the deadline.
    public var priorityBase: Int { Self.priorityBase(timeLeft: deadline.timeIntervalSince(now)) }

    /// Renewals per wave by default.
    public static let defaultWaveSize = 500

    /// Plans `candidates`; throws ``IncidentScheduleError`` for a deadline not in the future or a
    /// spread that is negative or longer than half the time to the deadline.
    public static func plan(
        _ candidates: [Candidate], now: Date, deadline: Date, spread requested: TimeInterval? = nil,
        waveSize: Int = defaultWaveSize
    ) throws -> IncidentSchedule {
        let window = deadline.timeIntervalSince(now)
        guard window > 0 else {
            throw IncidentScheduleError("the deadline \(ISO8601DateFormatter().string(from: deadline)) is not in the future")
        }
        guard waveSize >= 1 else { throw IncidentScheduleError("the wave size must be at least 1") }
        if let requested {
            guard requested >= 0 else { throw IncidentScheduleError("the spread cannot be negative") }
            guard requested <= window / 2 else {
                throw IncidentScheduleError(
                    "a spread of \(Self.text(requested)) leaves less than half of the \(Self.text(window)) to the deadline for "
                        + "installation, validation, revocation and retries (at most \(Self.text(window / 2)))")
            }
        }
        let ordered = candidates.sorted { a, b in
            if a.endpoints != b.endpoints { return a.endpoints > b.endpoints }
            if a.notAfter != b.notAfter { return a.notAfter < b.notAfter }
            return a.id.uuidString < b.id.uuidString
        }
        let waves = max(1, (ordered.count + waveSize - 1) / waveSize)
        let spread = waves == 1 ? 0 : (requested ?? min(window / 4, 3600))
        let base = priorityBase(timeLeft: window)
        let count = ordered.count
        let slots = ordered.enumerated().map { position, candidate in
            let wave = position / waveSize
            return Slot(
                id: candidate.id, position: position, priority: base + min(9, position * 10 / max(1, count)),
                runAt: now.addingTimeInterval(spread * Double(wave) / Double(waves)), wave: wave)
        }
        return IncidentSchedule(slots: slots, now: now, deadline: deadline, spread: spread, waves: waves)
    }

    /// 10 within an hour, 20 within a day, 40 within a week, 60 beyond.
    public static func priorityBase(timeLeft: TimeInterval) -> Int {
        switch timeLeft {
        case ...3600: 10
        case ...86400: 20
        case ...604_800: 40
        default: 60
        }
    }

    static func text(_ seconds: TimeInterval) -> String {
        let total = Int(seconds.rounded())
        if total < 120 { return "\(total) s" }
        if total < 7200 { return "\(total / 60) min" }
        if total < 172_800 { return "\(total / 3600) h" }
        return "\(total / 86400) d"
    }
}

/// An incident schedule that cannot be made.
public struct IncidentScheduleError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong.
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
