import Foundation
import Postgres

/// One row of `certbus.audit_log` exactly as stored: the values the hash chain
/// covers, in the form the canonical encoding uses, plus the seal.
public struct AuditRow: Sendable, Equatable {
    /// Log id.
    public var id: Int64
    /// `occurred_at` in microseconds since the Unix epoch (exact).
    public var occurredAtMicroseconds: Int64
    public var action: String
    public var entityType: String
    public var entityId: String
    /// `SYSTEM`, `USER` or `AGENT`.
    public var actorType: String
    public var actorId: String
    /// The `details` jsonb value as PostgreSQL prints it.
    public var detailsText: String
    /// The writing transaction's id (`xid8`).
    public var transactionId: UInt64
    /// Chain position, nil until sealed.
    public var chainPosition: Int64?
    /// Chain hash (32 bytes), nil until sealed.
    public var chainHash: Data?

    public init(
        id: Int64, occurredAtMicroseconds: Int64, action: String, entityType: String, entityId: String,
        actorType: String, actorId: String, detailsText: String, transactionId: UInt64,
        chainPosition: Int64? = nil, chainHash: Data? = nil
    ) {
        self.id = id
        self.occurredAtMicroseconds = occurredAtMicroseconds
        self.action = action
        self.entityType = entityType
        self.entityId = entityId
        self.actorType = actorType
        self.actorId = actorId
        self.detailsText = detailsText
        self.transactionId = transactionId
        self.chainPosition = chainPosition
        self.chainHash = chainHash
    }

    /// The select list that `init(row:)` decodes: plain columns, no SQL functions
    /// (a verifier must not depend on functions a superuser could replace).
    static let selectList =
        "id, occurred_at, action, entity_type, entity_id, actor_type, actor_id, details, txid, chain_position, chain_hash"

    /// Decodes a row selected with `selectList`, from the columns' raw text.
    init(row: Row) throws {
        func required(_ column: String) throws -> String {
            guard let value = try row.text(column) else {
                throw AuditError("audit row has NULL \(column), which the table does not allow")
            }
            return value
        }
        let idText = try required("id")
        guard let id = Int64(idText) else { throw AuditError("audit row id '\(idText)' is not an integer") }
        self.id = id
        self.occurredAtMicroseconds = try AuditTimestamp.microseconds(fromPostgresText: try required("occurred_at"))
        self.action = try required("action")
        self.entityType = try required("entity_type")
        self.entityId = try required("entity_id")
        self.actorType = try required("actor_type")
        self.actorId = try required("actor_id")
        self.detailsText = try required("details")
        let txidText = try required("txid")
        guard let txid = UInt64(txidText) else { throw AuditError("audit row \(id): txid '\(txidText)' is not an integer") }
        self.transactionId = txid
        if let positionText = try row.text("chain_position") {
            guard let position = Int64(positionText) else {
                throw AuditError("audit row \(id): chain_position '\(positionText)' is not an integer")
            }
            self.chainPosition = position
        } else {
            self.chainPosition = nil
        }
        if let hashText = try row.text("chain_hash") {
            guard hashText.hasPrefix("\\x"), let hash = AuditHex.decode(hashText.dropFirst(2)) else {
                throw AuditError("audit row \(id): chain_hash is not bytea hex text")
            }
            self.chainHash = hash
        } else {
            self.chainHash = nil
        }
    }
}

/// Lower-case hex without separators.
enum AuditHex {
    static let digits = Array("0123456789abcdef".utf8)

    static func encode(_ data: Data) -> String {
        var out = [UInt8]()
        out.reserveCapacity(data.count * 2)
        for byte in data {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode<S: StringProtocol>(_ text: S) -> Data? {
        if let data = text.utf8.withContiguousStorageIfAvailable({ decode(bytes: $0) }) { return data }
        return Array(text.utf8).withUnsafeBufferPointer { decode(bytes: $0) }
    }

    static func decode(bytes: UnsafeBufferPointer<UInt8>) -> Data? {
        guard bytes.count % 2 == 0 else { return nil }
        @inline(__always) func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out = [UInt8](repeating: 0, count: bytes.count / 2)
        var i = 0
        while i < bytes.count {
            guard let high = value(bytes[i]), let low = value(bytes[i + 1]) else { return nil }
            out[i / 2] = high << 4 | low
            i += 2
        }
        return Data(out)
    }
}
