import CertbusCore
import Foundation
import Postgres

/// Audit rows written by the endpoint, deployment, discovery and agent code, in the caller's transaction.
enum EndpointAudit {
    /// Writes one audit row about an endpoint.
    static func record(
        on connection: Connection, action: String, endpointId: UUID, actor: Actor, details: [String: String]
    ) throws {
        try record(on: connection, action: action, entityType: "ENDPOINT", entityId: endpointId.uuidString.lowercased(),
                   actor: actor, details: details)
    }

    /// Writes one audit row through `certbus.write_audit`.
    static func record(
        on connection: Connection, action: String, entityType: String, entityId: String, actor: Actor,
        details: [String: String]
    ) throws {
        // TEMPORARY until the audit area is merged: skip when certbus.write_audit does not exist yet.
        guard try SharedEntryPoints.exists("certbus.write_audit(text,text,text,text,text,jsonb)", on: connection) else { return }
        _ = try connection.query(
            "SELECT certbus.write_audit($1, $2, $3, $4, $5, $6::jsonb)",
            [action, entityType, entityId, actor.kind.rawValue, actor.id, try PostgresJSON(encoding: details)])
    }
}

/// TEMPORARY: whether another area's SQL entry point is present (until its branch is merged).
enum SharedEntryPoints {
    static func exists(_ signature: String, on connection: Connection) throws -> Bool {
        try connection.query("SELECT to_regprocedure($1) IS NOT NULL AS present", [signature])[0].decode("present")
    }
}
