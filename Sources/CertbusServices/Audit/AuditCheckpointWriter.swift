import CertbusCore
import Foundation
import Postgres

/// Signs and stores checkpoints of the chain head.
public struct AuditCheckpointWriter: Sendable {
    /// The key that signs.
    public let key: AuditSigningKey

    public init(key: AuditSigningKey) {
        self.key = key
    }

    /// Writes a checkpoint of the current chain head when rows other than
    /// AUDIT_CHECKPOINT rows were sealed since the latest checkpoint (or when
    /// `force` is set and the chain is not empty). Returns the new checkpoint, or
    /// nil when there was nothing to cover. The checkpoint row and its
    /// AUDIT_CHECKPOINT audit row commit together.
    @discardableResult
    public func writeIfDue(on connection: Connection, force: Bool = false) throws -> AuditCheckpoint? {
        try connection.withTransaction { tx in
            // Same lock as the sealer: the head cannot move while it is signed.
            try tx.execute("SELECT pg_advisory_xact_lock($1)", [AuditSealer.batchLockKey])
            let head = try AuditSealer.head(on: tx)
            guard head.position > 0 else { return nil }
            let latest = try AuditCheckpoint.latest(on: tx)
            if let latest, !force {
                guard latest.chainPosition < head.position else { return nil }
                let due = try tx.query(
                    """
                    SELECT EXISTS (SELECT 1 FROM certbus.audit_log
                                    WHERE chain_position > $1 AND action <> 'AUDIT_CHECKPOINT') AS due
                    """, [latest.chainPosition])[0].decode("due", as: Bool.self)
                guard due else { return nil }
            }
            let now = try tx.query("SELECT clock_timestamp() AS now")[0].decode("now", as: String.self)
            let signedAt = try AuditTimestamp.microseconds(fromPostgresText: now)
            var checkpoint = try AuditCheckpoint.sign(
                chainPosition: head.position, headHash: head.hash, signedAtMicroseconds: signedAt, key: key)
            let logId = try AuditTrail.record(
                on: tx, action: .auditCheckpoint, entityType: .auditLog, entityId: String(head.position),
                actor: .system("audit-sealer"),
                details: [
                    "chainPosition": head.position, "headHash": AuditHex.encode(head.hash),
                    "publicKey": AuditHex.encode(checkpoint.publicKey),
                    "signature": AuditHex.encode(checkpoint.signature),
                    "signedAt": AuditTimestamp.iso8601(microseconds: signedAt),
                ])
            checkpoint.id = try tx.query(
                """
                INSERT INTO certbus.audit_checkpoints (chain_position, head_hash, signed_at, public_key, signature, audit_log_id)
                VALUES ($1, $2, $3::timestamptz, $4, $5, $6) RETURNING id
                """,
                [head.position, head.hash, AuditTimestamp.postgresText(microseconds: signedAt), checkpoint.publicKey,
                 checkpoint.signature, logId])[0].decode("id", as: Int64.self)
            return checkpoint
        }
    }
}
