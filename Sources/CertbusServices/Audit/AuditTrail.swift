import CertbusCore
import Foundation
import Postgres

/// Writes audit rows. Call it on the connection, inside the transaction, that
/// performs the action: the row commits or rolls back with the action.
///
/// It calls `certbus.write_audit(...)`, so the database validates the row (known
/// action, actor, entity) and the sealer later links it into the hash chain.
public enum AuditTrail {
    /// Appends one audit row and returns its log id.
    ///
    /// `details` must be plain JSON values; keys that name secrets (`password`,
    /// `privateKey`, `secret`, ...) and PEM private keys are refused with an
    /// `AuditError` before anything is written. A row the database refuses (unknown
    /// action, bad entity type) throws an `AuditError` carrying the server's error;
    /// the caller's transaction is then failed and rolls back.
    @discardableResult
    public static func record(
        on connection: Connection, action: AuditAction, entityType: AuditEntityType, entityId: String,
        actor: Actor, details: [String: Any] = [:]
    ) throws -> Int64 {
        try insert(
            on: connection, action: action, entityType: entityType, entityId: entityId, actor: actor,
            detailsJSON: AuditDetails.encode(details))
    }

    /// Appends one audit row whose details are an `Encodable` value that encodes
    /// as a JSON object (keys sorted); same promises as the dictionary form.
    @discardableResult
    public static func record<Details: Encodable>(
        on connection: Connection, action: AuditAction, entityType: AuditEntityType, entityId: String,
        actor: Actor, details: Details
    ) throws -> Int64 {
        try insert(
            on: connection, action: action, entityType: entityType, entityId: entityId, actor: actor,
            detailsJSON: AuditDetails.encode(details))
    }

    static func insert(
        on connection: Connection, action: AuditAction, entityType: AuditEntityType, entityId: String,
        actor: Actor, detailsJSON: String
    ) throws -> Int64 {
        do {
            let result = try connection.query(
                "SELECT certbus.write_audit($1, $2, $3, $4, $5, $6::jsonb) AS id",
                [action.rawValue, entityType.rawValue, entityId, actor.kind.rawValue, actor.id,
                 PostgresJSON(text: detailsJSON)])
            guard let row = result.firstRow else { throw AuditError("certbus.write_audit returned no id") }
            return try row.decode("id", as: Int64.self)
        } catch let error as PostgresError {
            throw AuditError(
                "cannot write audit row \(action) for \(entityType) \(entityId) by \(actor)", underlying: error)
        }
    }
}
