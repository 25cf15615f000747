import Foundation
import Postgres

/// One row of `certbus.agents`.
public struct Agent: Sendable, Equatable {
    /// Liveness as recorded by heartbeats and the offline sweep.
    public enum Status: String, Sendable, Codable, CaseIterable {
        /// Registered, never heartbeated.
        case neverSeen = "NEVER_SEEN"
        /// Heartbeat within the threshold.
        case online = "ONLINE"
        /// Silent past the threshold; an "agent offline" alert is open.
        case offline = "OFFLINE"
    }

    public var id: UUID
    public var name: String
    public var hostname: String
    public var version: String
    public var status: Status
    public var lastSeenAt: Date?
    /// PostgreSQL login role allowed to act for this agent, if restricted to one.
    public var loginRole: String?
    public var createdAt: Date

    /// The job queue this agent's jobs run on: `agent-<id>` (queue names allow no colon).
    public var queue: String { Agent.queue(for: id) }

    /// The job queue of the agent with this id (`certbus.agent_queue(id)`).
    public static func queue(for id: UUID) -> String { "agent-\(id.uuidString.lowercased())" }

    static let columns = "id, name, hostname, version, status, last_seen_at, login_role, created_at"

    init(row: Row) throws {
        id = try row.decode("id")
        name = try row.decode("name")
        hostname = try row.decode("hostname")
        version = try row.decode("version")
        let statusText: String = try row.decode("status")
        status = Status(rawValue: statusText) ?? .offline
        lastSeenAt = try row.decode("last_seen_at")
        loginRole = try row.decode("login_role")
        createdAt = try row.decode("created_at")
    }
}
