import CertbusBus
import Foundation
import Postgres

/// How long lifecycle events are kept.
public struct EventRetentionPolicy: Sendable, Equatable {
    /// Days an event is kept after it was emitted; nil keeps events forever.
    public var days: Int?

    /// The default: 90 days, long enough for the weekly and monthly reviews.
    public static let standard = EventRetentionPolicy(days: 90)
    /// Never delete events.
    public static let forever = EventRetentionPolicy(days: nil)

    public init(days: Int?) {
        self.days = days
    }

    /// The environment variable that sets the policy of `certbus serve` and `certbus scheduler`.
    public static let environmentVariable = "CERTBUS_EVENT_RETENTION_DAYS"

    /// The policy `environment` asks for: ``standard`` when the variable is unset, ``forever`` for
    /// `0`, else that many days. Throws for anything that is not a whole number of days from 0 to 36500.
    public static func from(environment: [String: String]) throws -> EventRetentionPolicy {
        guard let text = environment[environmentVariable]?.trimmingCharacters(in: .whitespaces), !text.isEmpty else {
            return .standard
        }
        guard let days = Int(text), (0...36_500).contains(days) else {
            throw EventRetentionError(
                "\(environmentVariable) must be a whole number of days from 1 to 36500, or 0 to keep events forever (it is \"\(text)\")")
        }
        return days == 0 ? .forever : EventRetentionPolicy(days: days)
    }
}

/// A retention setting that cannot be used.
public struct EventRetentionError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Deletes lifecycle events past their retention: DISPATCHED events older than the policy's
/// days, except those with a trigger run still RETRYING (`certbus.events_past_retention`), in
/// batches of `batchSize`, each its own short transaction. Their finished trigger runs go with
/// them; notification deliveries stay, with `event_id` NULL.
public struct EventRetention: PeriodicTask {
    public static let taskName = "event-retention"
    public var name: String { Self.taskName }
    public var interval: Double
    /// Events are kept this many days (at least 1).
    public var days: Int
    /// Events deleted per transaction.
    public var batchSize: Int
    /// Most batches per run; the rest waits for the next run.
    public var maximumBatchesPerRun: Int

    public init(days: Int, interval: Double = 3600, batchSize: Int = 1000, maximumBatchesPerRun: Int = 100) {
        self.days = days
        self.interval = interval
        self.batchSize = batchSize
        self.maximumBatchesPerRun = maximumBatchesPerRun
    }

    private var keepSeconds: Double { Double(days) * 86_400 }

    public func run(_ connection: Connection) throws -> String {
        let deleted = try prune(on: connection)
        return "deleted \(deleted) events older than \(days) days"
    }

    /// Deletes up to `maximumBatchesPerRun` batches; `progress` gets the running total after each
    /// batch. Returns how many events were deleted.
    public func prune(on connection: Connection, progress: (Int) -> Void = { _ in }) throws -> Int {
        var deleted = 0
        for _ in 0..<maximumBatchesPerRun {
            let n = try connection.query(
                "SELECT certbus.delete_old_events($1::float8, $2::int) AS n", [keepSeconds, batchSize]
            )[0].decode("n", as: Int.self)
            deleted += n
            progress(deleted)
            if n < batchSize { break }
        }
        return deleted
    }

    /// How many events a run would delete now (all batches).
    public func countPastRetention(on connection: Connection) throws -> Int {
        try connection.query(
            "SELECT count(*)::int AS n FROM certbus.events_past_retention($1::float8)", [keepSeconds]
        )[0].decode("n", as: Int.self)
    }
}
