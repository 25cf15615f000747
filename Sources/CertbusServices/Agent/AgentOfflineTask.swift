import CertbusBus
import Foundation
import Postgres

/// Periodic task: ONLINE agents silent for longer than `threshold` become OFFLINE, each with one
/// WARN "agent offline" alert (cause `agent-offline:<id>`) and an AGENT_OFFLINE audit row; the
/// agent's next heartbeat resolves the alert. Safe in several processes at once (SKIP LOCKED).
public struct AgentOfflineTask: PeriodicTask {
    public let name = "agent-offline"
    /// Seconds between runs.
    public var interval: Double
    /// Silence after which an agent counts as offline.
    public var threshold: TimeInterval

    public init(interval: Double = 30, threshold: TimeInterval = 300) {
        self.interval = interval
        self.threshold = threshold
    }

    /// Marks silent agents offline; returns e.g. "2 agent(s) went offline".
    public func run(_ connection: Connection) throws -> String {
        let n: Int = try connection.withTransaction { c in
            try c.query("SELECT certbus.mark_silent_agents_offline(make_interval(secs => $1)) AS n", [threshold])[0].decode("n")
        }
        return "\(n) agent(s) went offline"
    }
}
