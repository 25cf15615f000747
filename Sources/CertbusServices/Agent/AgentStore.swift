import CertbusCore
import Foundation
import Postgres

/// Registers and looks up agents.
public enum AgentStore {
    /// The agent named `name`, registered (status NEVER_SEEN, audit AGENT_REGISTERED by `actor`) if it does
    /// not exist yet. With `loginRole`, a new agent is bound to that PostgreSQL role; an existing agent keeps its role.
    @discardableResult
    public static func register(name: String, loginRole: String? = nil, actor: Actor, on connection: Connection) throws -> Agent {
        if let problem = NameRules.problem(name) { throw EndpointError(.invalidInput, "agent name \"\(name)\" \(problem)") }
        if let loginRole, loginRole.isEmpty { throw EndpointError(.invalidInput, "an agent's login role cannot be empty") }
        return try connection.withTransaction { c in
            if let loginRole, try c.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [loginRole]).isEmpty {
                throw EndpointError(
                    .notFound, "no PostgreSQL role \(loginRole) (create it: CREATE ROLE \(loginRole) LOGIN IN ROLE certbus_agent)")
            }
            let rows = try c.query(
                """
                INSERT INTO certbus.agents (name, login_role) VALUES ($1, $2)
                ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name
                RETURNING \(Agent.columns), (xmax = 0) AS inserted
                """, [name, loginRole])
            let agent = try Agent(row: rows[0])
            let inserted = try rows[0].decode("inserted", as: Bool.self)
            if !inserted, let loginRole, agent.loginRole != loginRole {
                throw EndpointError(
                    .duplicate, "agent \(name) exists already with login role \(agent.loginRole ?? "none"), not \(loginRole)")
            }
            if inserted {
                var details: [String: Any] = ["name": name]
                if let loginRole { details["login_role"] = loginRole }
                try AuditTrail.record(
                    on: c, action: .agentRegistered, entityType: .agent, entityId: agent.id.uuidString.lowercased(),
                    actor: actor, details: details)
            }
            return agent
        }
    }

    /// The agent named `reference` or with that id; throws `.notFound`.
    public static func find(_ reference: String, on connection: Connection) throws -> Agent {
        let rows: QueryResult
        if let id = UUID(uuidString: reference) {
            rows = try connection.query("SELECT \(Agent.columns) FROM certbus.agents WHERE id = $1", [id])
        } else {
            rows = try connection.query("SELECT \(Agent.columns) FROM certbus.agents WHERE name = $1", [reference])
        }
        guard let row = rows.firstRow else { throw EndpointError(.notFound, "no agent named \"\(reference)\"") }
        return try Agent(row: row)
    }

    /// Every agent, by name.
    public static func list(on connection: Connection) throws -> [Agent] {
        try connection.query("SELECT \(Agent.columns) FROM certbus.agents ORDER BY name").map { try Agent(row: $0) }
    }
}
