import Foundation
import Postgres

/// Recomputes the audit hash chain from raw column values and checks every
/// checkpoint, trusting nothing computed by the database.
///
/// The chain order is (txid, id) (see `AuditSealer`): the verifier walks the log
/// in that order and requires sealed rows to form a prefix carrying positions
/// 1, 2, 3 ... (or P+1, P+2 ... after a starting checkpoint P), each with the
/// hash it recomputes. Reads happen in one REPEATABLE READ, READ ONLY
/// transaction, so the sealer may keep running. Verification stops at the first
/// problem and names the row (or checkpoint) concerned.
public struct AuditVerifier: Sendable {
    /// An exported checkpoint file to compare with (and, when old rows were archived, to start from).
    public var exportedCheckpoint: AuditCheckpoint?
    /// The raw Ed25519 public key every checkpoint must be signed with. When nil, the exported
    /// checkpoint's key is trusted, else the key of the stored checkpoints (all must agree).
    public var trustedPublicKey: Data?
    /// Rows fetched per query.
    public var batchSize: Int
    /// Called after each batch with the rows read so far (for a progress display).
    public var onProgress: (@Sendable (Int) -> Void)?

    public init(exportedCheckpoint: AuditCheckpoint? = nil, trustedPublicKey: Data? = nil, batchSize: Int = 20_000) {
        self.exportedCheckpoint = exportedCheckpoint
        self.trustedPublicKey = trustedPublicKey
        self.batchSize = batchSize
    }

    /// One step of the walk: up to $3 rows after ($1 = txid, $2 = log id) in chain order.
    public static let walkSQL = """
        SELECT \(AuditRow.selectList) FROM certbus.audit_log
         WHERE (txid, id) > ($1::xid8, $2::bigint) ORDER BY txid, id LIMIT $3
        """

    /// Verifies the whole chain and returns a report (`report.valid`, `report.problem`).
    /// Throws only when the database cannot be read. Opens its own REPEATABLE READ, READ ONLY
    /// transaction, or runs inside the caller's open transaction.
    public func verify(on connection: Connection) throws -> AuditVerificationReport {
        let alreadyOpen = connection.isInTransaction
        return try connection.withTransaction(isolation: .repeatableRead) { tx in
            // Inside a caller's transaction this runs in a savepoint and sees what the caller sees.
            if !alreadyOpen { try tx.execute("SET TRANSACTION READ ONLY") }
            var report = AuditVerificationReport()
            report.problem = try run(tx, &report)
            return report
        }
    }

    /// Checks signatures and keys of the exported and stored checkpoints; returns the stored ones.
    private func checkSignatures(_ tx: Connection, _ report: inout AuditVerificationReport) throws -> ([AuditCheckpoint], AuditProblem?) {
        var trusted = trustedPublicKey
        if let file = exportedCheckpoint {
            guard file.hasValidSignature else {
                return ([], AuditProblem(
                    .checkpointSignatureInvalid, "the exported checkpoint (position \(file.chainPosition)) has an invalid signature",
                    chainPosition: file.chainPosition, checkpointId: file.id))
            }
            if let trusted, trusted != file.publicKey {
                return ([], AuditProblem(
                    .checkpointUntrustedKey, "the exported checkpoint was signed by another key than the trusted one",
                    chainPosition: file.chainPosition, checkpointId: file.id))
            }
            if trusted == nil {
                trusted = file.publicKey
                report.notes.append("trusted key taken from the exported checkpoint")
            }
        }
        let stored = try AuditCheckpoint.all(on: tx)
        if trusted == nil, let first = stored.first {
            trusted = first.publicKey
            report.notes.append(
                "no trusted key given: checkpoints were checked against the key stored with them; "
                    + "pass the key file or an exported checkpoint to detect a re-signed chain")
        }
        report.trustedPublicKey = trusted.map(AuditHex.encode)
        for checkpoint in stored {
            guard checkpoint.hasValidSignature else {
                return (stored, AuditProblem(
                    .checkpointSignatureInvalid,
                    "checkpoint \(checkpoint.id) (position \(checkpoint.chainPosition)) has an invalid signature",
                    chainPosition: checkpoint.chainPosition, checkpointId: checkpoint.id))
            }
            if let trusted, checkpoint.publicKey != trusted {
                return (stored, AuditProblem(
                    .checkpointUntrustedKey,
                    "checkpoint \(checkpoint.id) (position \(checkpoint.chainPosition)) was signed by key "
                        + "\(AuditHex.encode(checkpoint.publicKey)), not the trusted key",
                    chainPosition: checkpoint.chainPosition, checkpointId: checkpoint.id))
            }
        }
        return (stored, nil)
    }

    /// Log ids of the rows that carry chain position `position` (a full scan: only on the failure path).
    private func rows(at position: Int64, _ tx: Connection) throws -> [Int64] {
        try tx.query("SELECT id FROM certbus.audit_log WHERE chain_position = $1 ORDER BY id", [position])
            .map { try $0.decode("id", as: Int64.self) }
    }

    private func run(_ tx: Connection, _ report: inout AuditVerificationReport) throws -> AuditProblem? {
        let (stored, signatureProblem) = try checkSignatures(tx, &report)
        if let signatureProblem { return signatureProblem }

        var position: Int64 = 0
        var previous = AuditChain.genesisHash
        var started = false
        var skipThrough: Int64 = 0  // rows at or below this position are covered by the starting checkpoint
        var firstUnsealed: AuditRow?
        var checkpoints: [(AuditCheckpoint, Bool)] = []
        var nextCheckpoint = 0
        var keyTxid = "0"
        var keyId = Int64.min
        var rowsRead = 0

        func start(at firstPosition: Int64, rowId: Int64?) throws -> AuditProblem? {
            started = true
            if firstPosition > 1 {
                if let rowId, exportedCheckpoint.map({ $0.chainPosition < firstPosition - 1 }) ?? true,
                    !(try rows(at: 1, tx)).isEmpty
                {
                    return AuditProblem(
                        .positionMismatch,
                        "row \(rowId) carries chain position \(firstPosition) but comes first in chain order: "
                            + "rows were reordered, or its txid or id was edited",
                        rowId: rowId, chainPosition: 1)
                }
                guard let file = exportedCheckpoint else {
                    return AuditProblem(
                        .startMissing,
                        "the chain starts at position \(firstPosition): positions 1 to \(firstPosition - 1) are missing. If old "
                            + "partitions were archived, verify with --from-checkpoint and the checkpoint exported when they were dropped",
                        chainPosition: firstPosition)
                }
                guard file.chainPosition >= firstPosition - 1 else {
                    return AuditProblem(
                        .positionMissing,
                        "positions \(file.chainPosition + 1) to \(firstPosition - 1) are missing between the exported checkpoint "
                            + "and the first row in the database",
                        chainPosition: file.chainPosition + 1)
                }
                position = file.chainPosition
                previous = file.headHash
                skipThrough = file.chainPosition
                report.startedFrom = "checkpoint at position \(file.chainPosition)"
            }
            checkpoints = stored.filter { $0.chainPosition > position }.map { ($0, false) }
            if let file = exportedCheckpoint, file.chainPosition > position { checkpoints.append((file, true)) }
            checkpoints.sort { $0.0.chainPosition < $1.0.chainPosition }
            return nil
        }

        while true {
            let result = try tx.query(Self.walkSQL, [keyTxid, keyId, batchSize])
            for raw in result {
                let row: AuditRow
                do {
                    row = try AuditRow(row: raw)
                } catch {
                    let id = (try? raw.text("id")).flatMap { $0 }.flatMap { Int64($0) }
                    return AuditProblem(.malformedRow, "row \(id.map(String.init) ?? "?") cannot be read: \(error)", rowId: id)
                }
                keyTxid = String(row.transactionId)
                keyId = row.id
                guard let rowPosition = row.chainPosition, let storedHash = row.chainHash else {
                    if firstUnsealed == nil { firstUnsealed = row }
                    report.unsealedRows += 1
                    continue
                }
                if let unsealed = firstUnsealed {
                    return AuditProblem(
                        .positionMissing,
                        "row \(unsealed.id) is not sealed although later rows are (row \(row.id) at position \(rowPosition)): "
                            + "its seal was removed, or it was inserted outside certbus",
                        rowId: unsealed.id, chainPosition: position + 1)
                }
                if !started, let problem = try start(at: rowPosition, rowId: row.id) { return problem }
                if rowPosition <= skipThrough, report.rowsVerified == 0 {
                    report.rowsBeforeStart += 1
                    continue
                }
                let expected = position + 1
                if rowPosition != expected {
                    let holders = try rows(at: rowPosition < expected ? rowPosition : expected, tx)
                    if rowPosition < expected {
                        if holders.count > 1 {
                            return AuditProblem(
                                .positionDuplicated,
                                "chain position \(rowPosition) is claimed by rows \(holders.map(String.init).joined(separator: ", ")); "
                                    + "row \(row.id) was inserted", rowId: row.id, chainPosition: rowPosition)
                        }
                    } else if holders.isEmpty {
                        let missing = rowPosition - expected == 1
                            ? "chain position \(expected) is missing"
                            : "chain positions \(expected) to \(rowPosition - 1) are missing"
                        return AuditProblem(
                            .positionMissing, "\(missing) (deleted); the next row is \(row.id) at position \(rowPosition)",
                            rowId: row.id, chainPosition: expected)
                    }
                    return AuditProblem(
                        .positionMismatch,
                        "row \(row.id) carries chain position \(rowPosition) but comes at position \(expected) in chain order: "
                            + "rows were reordered, or its txid or id was edited",
                        rowId: row.id, chainPosition: expected)
                }
                let hash = AuditChain.hash(previous: previous, row: row, position: rowPosition)
                guard hash == storedHash else {
                    return AuditProblem(
                        .rowMismatch,
                        "row \(row.id) at chain position \(rowPosition) does not match its chain hash: it was edited or replaced",
                        rowId: row.id, chainPosition: rowPosition)
                }
                position = rowPosition
                previous = hash
                report.rowsVerified += 1
                if report.firstPosition == nil { report.firstPosition = rowPosition }
                while nextCheckpoint < checkpoints.count, checkpoints[nextCheckpoint].0.chainPosition <= position {
                    let (checkpoint, isFile) = checkpoints[nextCheckpoint]
                    nextCheckpoint += 1
                    let name = isFile ? "the exported checkpoint" : "checkpoint \(checkpoint.id)"
                    guard checkpoint.chainPosition == position, checkpoint.headHash == hash else {
                        return AuditProblem(
                            .checkpointMismatch,
                            "the chain was rewritten: at position \(checkpoint.chainPosition) (row \(row.id)) the "
                                + "recomputed hash differs from the one signed in \(name)",
                            rowId: row.id, chainPosition: checkpoint.chainPosition, checkpointId: checkpoint.id)
                    }
                    if isFile { report.exportedCheckpointMatched = true } else { report.checkpointsVerified += 1 }
                }
            }
            rowsRead += result.count
            onProgress?(rowsRead)
            if result.count < batchSize { break }
        }
        if !started, let problem = try start(at: 1, rowId: nil) { return problem }
        report.lastPosition = report.rowsVerified > 0 ? position : nil
        report.headHash = report.rowsVerified > 0 ? AuditHex.encode(previous) : nil
        if nextCheckpoint < checkpoints.count {
            let (checkpoint, isFile) = checkpoints[nextCheckpoint]
            let name = isFile ? "the exported checkpoint" : "checkpoint \(checkpoint.id)"
            return AuditProblem(
                .chainTruncated,
                "\(name) covers chain position \(checkpoint.chainPosition) but the chain ends at \(position): "
                    + "rows were deleted from the end",
                chainPosition: position + 1, checkpointId: checkpoint.id)
        }
        return nil
    }
}
