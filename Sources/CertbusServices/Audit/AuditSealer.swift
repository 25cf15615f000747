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

/// Where the sealer stands: the last sealed row in chain order.
public struct AuditChainHead: Sendable, Equatable {
    /// Chain position of the last sealed row (0 before the first).
    public var position: Int64
    /// Its chain hash (the genesis hash before the first).
    public var hash: Data
    /// Its (txid, id): every row after it in that order is unsealed.
    public var transactionId: UInt64
    public var logId: Int64
}

/// Links committed, unsealed audit rows into the hash chain.
///
/// The chain order is (txid, id). A batch takes the rows after the head in that
/// order whose writing transaction is older than every running transaction
/// (`txid < pg_snapshot_xmin(pg_current_snapshot())`): every transaction below
/// that watermark has finished, so every row that can still appear later sorts
/// after every row sealed now. Nothing is skipped, and nothing waits for a
/// transaction still running. Sealed rows therefore always form a prefix of the
/// (txid, id) order, which the verifier checks.
///
/// Each batch runs in one transaction holding the row lock on
/// `certbus.audit_seal_state` (plus a transaction advisory lock), so two sealers
/// never interleave, whatever leadership says. Hashes are computed here, in Swift.
public struct AuditSealer: Sendable {
    /// The transaction-level advisory lock serialising seal batches and checkpoints ('certbus' + 'A').
    public static let batchLockKey: Int64 = 0x6365_7274_6275_7341
    /// The NOTIFY channel written by every transaction that inserts audit rows.
    public static let channel = "certbus_audit"

    /// The most rows sealed per transaction.
    public var batchSize: Int

    public init(batchSize: Int = 5000) {
        precondition(batchSize > 0, "batch size must be positive")
        self.batchSize = batchSize
    }

    /// The chain head as the sealer recorded it (locked `FOR UPDATE` when `lock` is set).
    public static func head(on connection: Connection, lock: Bool = false) throws -> AuditChainHead {
        let result = try connection.query(
            """
            SELECT chain_position, chain_hash, head_txid::text AS head_txid, head_id FROM certbus.audit_seal_state
            \(lock ? "FOR UPDATE" : "")
            """)
        guard let row = result.firstRow else {
            throw AuditError("certbus.audit_seal_state has no row; the audit migrations are incomplete")
        }
        guard let txid = UInt64(try row.decode("head_txid", as: String.self)) else {
            throw AuditError("certbus.audit_seal_state.head_txid is not an integer")
        }
        return AuditChainHead(
            position: try row.decode("chain_position", as: Int64.self), hash: try row.decode("chain_hash", as: Data.self),
            transactionId: txid, logId: try row.decode("head_id", as: Int64.self))
    }

    /// The work list of a batch: up to $3 rows after the chain head ($1 = its txid, $2 = its log id)
    /// in chain order, committed before every running transaction began.
    public static let workListSQL = """
        SELECT \(AuditRow.selectList) FROM certbus.audit_log
         WHERE (txid, id) > ($1::xid8, $2::bigint) AND txid < pg_snapshot_xmin(pg_current_snapshot())
         ORDER BY txid, id LIMIT $3
        """

    /// Seals one batch in its own transaction and returns what it did.
    @discardableResult
    public func sealBatch(on connection: Connection) throws -> AuditSealBatch {
        try connection.withTransaction { tx in
            try tx.execute("SELECT pg_advisory_xact_lock($1)", [Self.batchLockKey])
            let head = try Self.head(on: tx, lock: true)
            let result = try tx.query(Self.workListSQL, [String(head.transactionId), head.logId, batchSize])
            if result.isEmpty { return AuditSealBatch(sealed: 0, headPosition: head.position, headHash: head.hash) }
            var position = head.position
            var previous = head.hash
            var ids: [Int64] = []
            var times: [String] = []
            var positions: [Int64] = []
            var hashes: [String] = []
            ids.reserveCapacity(result.count)
            times.reserveCapacity(result.count)
            positions.reserveCapacity(result.count)
            hashes.reserveCapacity(result.count)
            var last: AuditRow?
            for raw in result {
                let row = try AuditRow(row: raw)
                guard row.chainPosition == nil else {
                    throw AuditError(
                        "audit row \(row.id) after the chain head (position \(head.position)) is already sealed at "
                            + "position \(row.chainPosition ?? 0): the seal state does not match the log; run certbus audit verify")
                }
                position += 1
                previous = AuditChain.hash(previous: previous, row: row, position: position)
                ids.append(row.id)
                times.append(try raw.text("occurred_at") ?? "")
                positions.append(position)
                hashes.append(AuditHex.encode(previous))
                last = row
            }
            // One index probe per row (run-time partition pruning on (id, occurred_at)); a hash join
            // would scan every partition once per batch and grow with the table.
            try tx.execute("SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true)")
            let updated = try tx.execute(
                """
                UPDATE certbus.audit_log AS a SET chain_position = u.position, chain_hash = decode(u.hash, 'hex')
                  FROM unnest($1::bigint[], $2::timestamptz[], $3::bigint[], $4::text[]) AS u(id, occurred_at, position, hash)
                 WHERE a.id = u.id AND a.occurred_at = u.occurred_at AND a.chain_position IS NULL
                """, [ids, times, positions, hashes])
            guard updated == ids.count, let last else {
                throw AuditError("audit sealing raced with another writer: sealed \(updated) of \(ids.count) rows; rolled back")
            }
            try tx.execute(
                """
                UPDATE certbus.audit_seal_state
                   SET chain_position = $1, chain_hash = $2, head_txid = $3::xid8, head_id = $4, sealed_at = clock_timestamp()
                """, [position, previous, String(last.transactionId), last.id])
            return AuditSealBatch(sealed: ids.count, headPosition: position, headHash: previous)
        }
    }

    /// Seals batches until no eligible row is left; returns the number sealed. `progress` gets
    /// the running total after each batch.
    @discardableResult
    public func sealAvailable(on connection: Connection, progress: (Int) -> Void = { _ in }) throws -> Int {
        var total = 0
        while true {
            let batch = try sealBatch(on: connection)
            total += batch.sealed
            progress(total)
            if batch.sealed < batchSize { return total }
        }
    }

    /// Committed rows after the chain head, i.e. not sealed yet (including those
    /// waiting for an older transaction to end).
    public static func unsealedCount(on connection: Connection) throws -> Int64 {
        try connection.query(
            """
            SELECT count(*) AS n FROM certbus.audit_log, certbus.audit_seal_state s
             WHERE (audit_log.txid, audit_log.id) > (s.head_txid, s.head_id)
            """)[0].decode("n", as: Int64.self)
    }

    /// Whether any committed row waits after the chain head (cheap: one index probe).
    public static func hasUnsealed(on connection: Connection) throws -> Bool {
        try connection.query(
            """
            SELECT EXISTS (SELECT 1 FROM certbus.audit_log, certbus.audit_seal_state s
                            WHERE (audit_log.txid, audit_log.id) > (s.head_txid, s.head_id)) AS pending
            """)[0].decode("pending", as: Bool.self)
    }
}
