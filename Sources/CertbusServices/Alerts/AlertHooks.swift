import Foundation
import Postgres

/// The alert entry points for areas that detect problems elsewhere (agents, deployment validation), over the
/// SQL functions of migration 043. They use fixed cause keys (`agent-offline:<id>`, `deployment:<id>`), so raising
/// twice keeps one open alert and clearing resolves it; call them inside the transaction that records the state.
public enum AlertHooks {
    /// Raises the WARN "agent offline" alert for an agent (no heartbeat since `lastSeen`); returns its id.
    @discardableResult
    public static func agentOffline(on connection: Connection, agentId: String, lastSeen: Date?) throws -> Int64 {
        guard !agentId.isEmpty else { throw AlertError(message: "an agent id is needed") }
        return try connection.query("SELECT certbus.alert_agent_offline($1, $2) AS id", [agentId, lastSeen])[0]
            .decode("id", as: Int64.self)
    }

    /// Resolves the agent's "agent offline" alert ("agent reconnected"); returns 0 or 1.
    @discardableResult
    public static func agentOnline(on connection: Connection, agentId: String) throws -> Int {
        try connection.query("SELECT certbus.clear_agent_offline($1) AS n", [agentId])[0].decode("n", as: Int.self)
    }

    /// Raises an ERROR or WARN alert for a failed deployment validation of an endpoint; returns its id.
    @discardableResult
    public static func deploymentValidationFailed(
        on connection: Connection, endpointId: String, severity: AlertSeverityText, message: String
    ) throws -> Int64 {
        guard !endpointId.isEmpty else { throw AlertError(message: "an endpoint id is needed") }
        return try connection.query(
            "SELECT certbus.alert_deployment_validation($1, $2, $3) AS id", [endpointId, severity.rawValue, message]
        )[0].decode("id", as: Int64.self)
    }

    /// Resolves the endpoint's deployment-validation alert ("deployment validated"); returns 0 or 1.
    @discardableResult
    public static func deploymentValidated(on connection: Connection, endpointId: String) throws -> Int {
        try connection.query("SELECT certbus.clear_deployment_validation($1) AS n", [endpointId])[0].decode("n", as: Int.self)
    }

    /// ERROR or WARN.
    public enum AlertSeverityText: String, Sendable {
        case error = "ERROR"
        case warn = "WARN"
    }
}
