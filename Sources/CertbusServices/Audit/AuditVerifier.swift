import Foundation
import Postgres

/// Recomputes the audit hash chain from raw column values and checks every
/// checkpoint, trusting nothing computed by the database.
///
/// Reads happen in one REPEATABLE READ, READ ONLY transaction, so the sealer may
/// keep running. Verification stops at the first problem and names the row (or
/// checkpoint) concerned.
public struct AuditVerifier: Sendable {
    /// An exported checkpoint file to compare with (and, when old rows were archived, to start from).
    public var exportedCheckpoint: AuditCheckpoint?
    /// The raw Ed25519 public key every checkpoint must be signed with. When nil, the exported
    /// checkpoint's key is trusted, else the key of the stored checkpoints (all must agree).
    public var trustedPublicKey: Data?
    /// Rows fetched per query.
    public var batchSize: Int

    public init(exportedCheckpoint: AuditCheckpoint? = nil, trustedPublicKey: Data? = nil, batchSize: Int = 20_000) {
        self.exportedCheckpoint = exportedCheckpoint
        self.trustedPublicKey = trustedPublicKey
        self.batchSize = batchSize
    }

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
            report.unsealedRows = try AuditSealer.unsealedCount(on: tx)
            return report
        }
    }

    private func run(_ tx: Connection, _ report: inout AuditVerificationReport) throws -> AuditProblem? {
        // 1. Checkpoint signatures and keys.
        var trusted = trustedPublicKey
        if let file = exportedCheckpoint {
            guard file.hasValidSignature else {
                return AuditProblem(
                    .checkpointSignatureInvalid,
                    "the exported checkpoint (position \(file.chainPosition)) has an invalid signature",
                    chainPosition: file.chainPosition, checkpointId: file.id)
            }
            if let trusted, trusted != file.publicKey {
                return AuditProblem(
                    .checkpointUntrustedKey, "the exported checkpoint was signed by another key than the trusted one",
                    chainPosition: file.chainPosition, checkpointId: file.id)
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
                return AuditProblem(
                    .checkpointSignatureInvalid,
                    "checkpoint \(checkpoint.id) (position \(checkpoint.chainPosition)) has an invalid signature",
                    chainPosition: checkpoint.chainPosition, checkpointId: checkpoint.id)
            }
            if let trusted, checkpoint.publicKey != trusted {
                return AuditProblem(
                    .checkpointUntrustedKey,
                    "checkpoint \(checkpoint.id) (position \(checkpoint.chainPosition)) was signed by key "
                        + "\(AuditHex.encode(checkpoint.publicKey)), not the trusted key",
                    chainPosition: checkpoint.chainPosition, checkpointId: checkpoint.id)
            }
        }

        // 2. The starting point.
        let minimum = try tx.query(
            "SELECT min(chain_position) AS m FROM certbus.audit_log WHERE chain_position IS NOT NULL"
        )[0].decode("m", as: Int64?.self)
        var position: Int64 = 0
        var previous = AuditChain.genesisHash
        if let minimum, minimum > 1 {
            guard let file = exportedCheckpoint else {
                return AuditProblem(
                    .startMissing,
                    "the chain starts at position \(minimum): positions 1 to \(minimum - 1) are missing. If old partitions "
                        + "were archived, verify with --from-checkpoint and the checkpoint exported when they were dropped",
                    chainPosition: minimum)
            }
            guard file.chainPosition >= minimum - 1 else {
                return AuditProblem(
                    .positionMissing,
                    "positions \(file.chainPosition + 1) to \(minimum - 1) are missing between the exported checkpoint "
                        + "and the first row in the database",
                    chainPosition: file.chainPosition + 1)
            }
            position = file.chainPosition
            previous = file.headHash
            report.startedFrom = "checkpoint at position \(file.chainPosition)"
            report.rowsBeforeStart = try tx.query(
                "SELECT count(*) AS n FROM certbus.audit_log WHERE chain_position <= $1", [file.chainPosition]
            )[0].decode("n", as: Int64.self)
        }

        // 3. The walk.
        var checkpoints = stored.filter { $0.chainPosition > position }.map { ($0, false) }
        if let file = exportedCheckpoint, file.chainPosition > position { checkpoints.append((file, true)) }
        checkpoints.sort { $0.0.chainPosition < $1.0.chainPosition }
        var nextCheckpoint = 0
        var lastId: Int64 = Int64.max  // the first query starts strictly after `position`
        var keyPosition = position
        while true {
            let result = try tx.query(
                """
                SELECT \(AuditRow.selectList) FROM certbus.audit_log
                 WHERE chain_position >= $1 AND (chain_position, id) > ($1, $2)
                 ORDER BY chain_position, id LIMIT $3
                """, [keyPosition, lastId, batchSize])
            for raw in result {
                let row: AuditRow
                do {
                    row = try AuditRow(row: raw)
                } catch {
                    let id = (try? raw.text("id")).flatMap { $0 }.flatMap { Int64($0) }
                    return AuditProblem(.malformedRow, "row \(id.map(String.init) ?? "?") cannot be read: \(error)", rowId: id)
                }
                let rowPosition = row.chainPosition ?? 0
                keyPosition = rowPosition
                lastId = row.id
                if rowPosition <= position {
                    return AuditProblem(
                        .positionDuplicated,
                        "chain position \(rowPosition) holds more than one row; row \(row.id) was inserted",
                        rowId: row.id, chainPosition: rowPosition)
                }
                if rowPosition > position + 1 {
                    let missing = rowPosition - position - 1 == 1
                        ? "chain position \(position + 1) is missing"
                        : "chain positions \(position + 1) to \(rowPosition - 1) are missing"
                    return AuditProblem(
                        .positionMissing, "\(missing) (deleted); the next row is \(row.id) at position \(rowPosition)",
                        rowId: row.id, chainPosition: position + 1)
                }
                let hash = AuditChain.hash(previous: previous, row: row, position: rowPosition)
                guard hash == row.chainHash else {
                    return AuditProblem(
                        .rowMismatch,
                        "row \(row.id) at chain position \(rowPosition) does not match its chain hash: "
                            + "it was edited, moved or inserted",
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
            if result.count < batchSize { break }
        }
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
