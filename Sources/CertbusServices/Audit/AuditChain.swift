import Foundation
import PKI

/// The hash chain: the canonical encoding of a row and how each chain hash is
/// derived from the previous one. docs/audit.md specifies the same bytes so that
/// another implementation can verify an exported log.
public enum AuditChain {
    /// The "previous hash" of the row at chain position 1: 32 zero bytes.
    public static let genesisHash = Data(repeating: 0, count: 32)

    /// The domain tag that starts every row encoding.
    static let rowTag = Array("certbus-audit-row-v1".utf8)

    /// The canonical encoding of `row` at `position`:
    /// tag ‖ u64(position) ‖ i64(id) ‖ i64(occurred_at µs) ‖ u64(txid) ‖ str(action) ‖ str(entity_type)
    /// ‖ str(entity_id) ‖ str(actor_type) ‖ str(actor_id) ‖ str(details), integers big-endian,
    /// `str(s)` = u32 byte length ‖ UTF-8 bytes.
    public static func canonicalEncoding(of row: AuditRow, position: Int64) -> [UInt8] {
        var out: [UInt8] = []
        append(row, position: position, to: &out)
        return out
    }

    /// SHA-256(previous ‖ canonicalEncoding(row, position)).
    public static func hash(previous: Data, row: AuditRow, position: Int64) -> Data {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(previous.count + 128 + row.detailsText.utf8.count)
        buffer.append(contentsOf: previous)
        append(row, position: position, to: &buffer)
        return SHA256.hash(Data(buffer))
    }

    static func append(_ row: AuditRow, position: Int64, to out: inout [UInt8]) {
        out.append(contentsOf: rowTag)
        appendInteger(UInt64(bitPattern: position), to: &out)
        appendInteger(UInt64(bitPattern: row.id), to: &out)
        appendInteger(UInt64(bitPattern: row.occurredAtMicroseconds), to: &out)
        appendInteger(row.transactionId, to: &out)
        for text in [row.action, row.entityType, row.entityId, row.actorType, row.actorId, row.detailsText] {
            let utf8 = text.utf8
            let count = UInt32(utf8.count)
            out.append(UInt8(count >> 24))
            out.append(UInt8(count >> 16 & 0xff))
            out.append(UInt8(count >> 8 & 0xff))
            out.append(UInt8(count & 0xff))
            out.append(contentsOf: utf8)
        }
    }

    static func appendInteger(_ value: UInt64, to out: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8(value >> UInt64(shift) & 0xff)) }
    }
}
