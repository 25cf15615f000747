import CertbusCore
import Foundation
import Postgres

/// The audit actions of the endpoint area that are not in the audit area's built-in list
/// (added to `certbus.audit_actions` by sql/051_agents.sql).
extension AuditAction {
    /// An endpoint was added to the inventory.
    public static let endpointAdded: AuditAction = "ENDPOINT_ADDED"
    /// An agent was registered.
    public static let agentRegistered: AuditAction = "AGENT_REGISTERED"
    /// An agent went silent past the threshold and was marked offline.
    public static let agentOffline: AuditAction = "AGENT_OFFLINE"
    /// An offline agent heartbeated again.
    public static let agentOnline: AuditAction = "AGENT_ONLINE"
}

/// Audit rows about endpoints, in the caller's transaction.
enum EndpointAudit {
    /// Writes one audit row about an endpoint.
    static func record(
        on connection: Connection, action: AuditAction, endpointId: UUID, actor: Actor, details: [String: Any]
    ) throws {
        try AuditTrail.record(
            on: connection, action: action, entityType: .endpoint, entityId: endpointId.uuidString.lowercased(),
            actor: actor, details: details)
    }
}
