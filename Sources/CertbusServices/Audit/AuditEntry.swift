import CertbusCore
import Foundation
import Postgres

/// One audit log entry for reading (`certbus audit list` / `show`): who did
/// what to which entity, when, with the structured details and the seal.
public struct AuditEntry: Sendable, Equatable {
    /// Log id.
    public var id: Int64
    /// When it was written, microseconds since the Unix epoch.
    public var occurredAtMicroseconds: Int64
    public var action: AuditAction
    public var entityType: String
    public var entityId: String
    public var actor: Actor
    /// The details JSON object, as text.
    public var detailsJSON: String
    /// The writing transaction's id.
    public var transactionId: UInt64
    /// Chain position and hash once sealed.
    public var chainPosition: Int64?
    public var chainHash: Data?

    /// When it was written, ISO 8601 UTC with microseconds.
    public var occurredAt: String { AuditTimestamp.iso8601(microseconds: occurredAtMicroseconds) }
    /// True once the sealer linked it into the chain.
    public var isSealed: Bool { chainPosition != nil }

    init(_ row: AuditRow) throws {
        guard let kind = Actor.Kind(rawValue: row.actorType) else {
            throw AuditError("audit row \(row.id) has unknown actor type '\(row.actorType)'")
        }
        self.id = row.id
        self.occurredAtMicroseconds = row.occurredAtMicroseconds
        self.action = AuditAction(row.action)
        self.entityType = row.entityType
        self.entityId = row.entityId
        self.actor = Actor(kind, row.actorId)
        self.detailsJSON = row.detailsText
        self.transactionId = row.transactionId
        self.chainPosition = row.chainPosition
        self.chainHash = row.chainHash
    }
}

/// The full record the detail view shows: the entry, what its action means,
/// how many other entries concern the same entity, and the checkpoint that covers it.
public struct AuditEntryDetail: Sendable, Equatable {
    public var entry: AuditEntry
    /// The vocabulary's description of the action.
    public var actionDescription: String
    /// How many entries (this one included) concern the same entity type and id.
    public var entityEntryCount: Int64
    /// The earliest checkpoint at or after the entry's chain position, if any.
    public var coveringCheckpoint: AuditCheckpoint?
}
