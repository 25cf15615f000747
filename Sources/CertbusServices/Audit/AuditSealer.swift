import Foundation
import Postgres

/// The outcome of one sealing batch.
public struct AuditSealBatch: Sendable, Equatable {
    /// Rows sealed by this batch.
    public var sealed: Int
    /// The chain head after the batch (0 and the genesis hash when the chain is empty).
    public var headPosition: Int64
    public var headHash: Data
}

/// Links committed, unsealed audit rows into the hash chain.
///
/// A batch takes the rows whose writing transaction is older than every running
/// transaction (`txid < pg_snapshot_xmin(pg_current_snapshot())`), so every row
/// that can still appear later has a larger transaction id than any row sealed
/// now: nothing is skipped, and nothing blocks on a transaction still running.
/// Rows are ordered by (txid, id). Each batch runs in one transaction under a
/// transaction-level advisory lock, so two sealers never interleave even if
/// leadership is misconfigured; the hashes are computed here, in Swift.
public struct AuditSealer: Sendable {
    /// The transaction-level advisory lock serialising seal batches ('certbus' + 'A').
    public static let batchLockKey: Int64 = 0x6365_7274_6275_7341
    /// The NOTIFY channel written by every transaction that inserts audit rows.
    public static let channel = "certbus_audit"

    /// The most rows sealed per transaction.
    public var batchSize: Int

    public init(batchSize: Int = 5000) {
        precondition(batchSize > 0, "batch size must be positive")
        self.batchSize = batchSize
    }

    /// The chain head: position and hash of the highest sealed row, or (0, genesis).
    public static func head(on connection: Connection) throws -> (position: Int64, hash: Data) {
        let result = try connection.query(
            """
            SELECT \(AuditRow.selectList) FROM certbus.audit_log
             WHERE chain_position IS NOT NULL ORDER BY chain_position DESC LIMIT 1
            """)
        guard let first = result.firstRow else { return (0, AuditChain.genesisHash) }
        let row = try AuditRow(row: first)
        guard let position = row.chainPosition, let hash = row.chainHash else {
            throw AuditError("audit chain head row \(row.id) is not sealed")
        }
        return (position, hash)
    }

    /// Seals one batch in its own transaction and returns what it did.
    @discardableResult
    public func sealBatch(on connection: Connection) throws -> AuditSealBatch {
        try connection.withTransaction { tx in
            try tx.execute("SELECT pg_advisory_xact_lock($1)", [Self.batchLockKey])
            var (position, previous) = try Self.head(on: tx)
            let result = try tx.query(
                """
                SELECT \(AuditRow.selectList) FROM certbus.audit_log
                 WHERE chain_position IS NULL AND txid < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY txid, id LIMIT $1
                """, [batchSize])
            if result.isEmpty { return AuditSealBatch(sealed: 0, headPosition: position, headHash: previous) }
            var ids: [Int64] = []
            var times: [String] = []
            var positions: [Int64] = []
            var hashes: [Data] = []
            ids.reserveCapacity(result.count)
            times.reserveCapacity(result.count)
            positions.reserveCapacity(result.count)
            hashes.reserveCapacity(result.count)
            for raw in result {
                let row = try AuditRow(row: raw)
                position += 1
                previous = AuditChain.hash(previous: previous, row: row, position: position)
                ids.append(row.id)
                times.append(try raw.text("occurred_at") ?? "")
                positions.append(position)
                hashes.append(previous)
            }
            let updated = try tx.execute(
                """
                UPDATE certbus.audit_log AS a SET chain_position = u.position, chain_hash = u.hash
                  FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::bytea[]) AS u(id, occurred_at, position, hash)
                 WHERE a.id = u.id AND a.occurred_at = u.occurred_at AND a.chain_position IS NULL
                """, [ids, times, positions, hashes])
            guard updated == ids.count else {
                throw AuditError("audit sealing raced with another writer: sealed \(updated) of \(ids.count) rows; rolled back")
            }
            return AuditSealBatch(sealed: ids.count, headPosition: position, headHash: previous)
        }
    }

    /// Seals batches until no eligible row is left; returns the number sealed.
    @discardableResult
    public func sealAvailable(on connection: Connection) throws -> Int {
        var total = 0
        while true {
            let batch = try sealBatch(on: connection)
            total += batch.sealed
            if batch.sealed < batchSize { return total }
        }
    }

    /// Committed rows not yet sealed (including those waiting for an older transaction to end).
    public static func unsealedCount(on connection: Connection) throws -> Int64 {
        try connection.query("SELECT count(*) AS n FROM certbus.audit_log WHERE chain_position IS NULL")[0]
            .decode("n", as: Int64.self)
    }
}
