import CertbusBus
import Foundation
import Postgres

/// The leader-elected task that moves incidents on (`certbus.advance_incidents`): renewed
/// certificates to deployment, validated ones to revocation, revoked ones to done, failures to
/// failed; and finished incidents to COMPLETED or FAILED. Each call is one transaction over at
/// most `batchSize` items per step; a run repeats it while it finds work, for at most
/// `timeBudget` seconds, so a large incident moves quickly without holding the scheduler.
public struct IncidentAdvanceTask: PeriodicTask {
    public static let taskName = "incident-advance"
    public var name: String { Self.taskName }
    public let interval: Double
    /// Items per step and call.
    public let batchSize: Int
    /// Seconds a run may keep calling.
    public let timeBudget: Double

    /// A task running every `interval` seconds (default 5).
    public init(interval: Double = 5, batchSize: Int = 1000, timeBudget: Double = 10) {
        self.interval = interval
        self.batchSize = batchSize
        self.timeBudget = timeBudget
    }

    public func run(_ connection: Connection) throws -> String {
        let started = Date()
        var total = IncidentAdvance()
        while true {
            let step = try Self.advanceOnce(limit: batchSize, on: connection)
            total.add(step)
            guard step.moved > 0, Date().timeIntervalSince(started) < timeBudget else { break }
        }
        return total.moved == 0 ? "nothing to do" : total.description
    }

    /// One call of `certbus.advance_incidents`.
    public static func advanceOnce(limit: Int = 1000, on connection: Connection) throws -> IncidentAdvance {
        let json: String = try connection.query("SELECT certbus.advance_incidents($1)::text AS r", [limit])[0].decode("r")
        return IncidentAdvance(json: json)
    }
}

/// What `certbus.advance_incidents` did.
public struct IncidentAdvance: Sendable, Equatable, CustomStringConvertible {
    public var counts: [String: Int] = [:]

    public init() {}

    init(json: String) {
        let object = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
        for (key, value) in object {
            if let number = value as? Int { counts[key] = number }
        }
    }

    mutating func add(_ other: IncidentAdvance) {
        for (key, value) in other.counts { counts[key, default: 0] += value }
    }

    /// Steps taken (a state change of an item, deployment or incident).
    public var moved: Int { counts.values.reduce(0, +) }

    public var description: String {
        counts.filter { $0.value > 0 }.sorted { $0.key < $1.key }.map { "\($0.key.replacingOccurrences(of: "_", with: " ")) \($0.value)" }
            .joined(separator: ", ")
    }
}
