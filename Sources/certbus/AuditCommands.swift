import CertbusArguments
import CertbusServices
import Foundation
import Postgres

/// `certbus audit list|show|verify|seal|checkpoint export`: read and check the
/// tamper-evident audit log (logic in CertbusServices/Audit).
enum AuditCommands {
    static let command = Command(
        "audit", abstract: "Read the audit log and verify its hash chain.",
        discussion: """
            Every lifecycle and administrative action writes an audit row in its own transaction. \
            The audit sealer links committed rows into a SHA-256 hash chain and signs checkpoints \
            with the Ed25519 key in $CERTBUS_AUDIT_KEY_FILE (default: $CERTBUS_HOME/audit-signing-key.pem). \
            See docs/audit.md.
            """,
        subcommands: [list, show, verify, seal, checkpoint])

    // MARK: list

    static let entityType = Option<String>("entity-type", valueName: "type", help: "Only entries about this kind of entity (Certificate, CSR, CA, Job, ...).")
    static let entityId = Option<String>("entity-id", valueName: "id", help: "Only entries about this entity id.")
    static let action = Option<String>("action", valueName: "action", help: "Only this action (e.g. RENEWAL_COMPLETED).")
    static let actor = Option<String>("actor", valueName: "actor", help: "Only this actor: USER:alice, AGENT:web-01, SYSTEM:worker, or just the id.")
    static let since = Option<String>("since", valueName: "when", help: "Only entries since a date (2025-01-31, 2025-01-31T12:00:00Z) or for a duration back (24h, 7d).")
    static let beforeId = Option<Int>("before-id", valueName: "id", help: "Only entries older than this log id (the next page).")
    static let limit = Option<Int>("limit", default: 50, help: "At most this many entries (1 to 10000).")

    static let list = Command(
        "list", abstract: "List audit entries, newest first.",
        options: CommandContext.options + [entityType, entityId, action, actor, since, beforeId, limit]
    ) { invocation in
        let context = CommandContext(invocation)
        var filter = AuditFilter(
            entityType: invocation[entityType], entityId: invocation[entityId], action: invocation[action],
            actor: invocation[actor], beforeId: invocation[beforeId].map(Int64.init), limit: invocation[limit] ?? 50)
        if let text = invocation[since] { filter.since = try parseSince(text) }
        guard (1...10_000).contains(filter.limit) else { throw UsageError("--limit must be between 1 and 10000") }
        let connection = try context.connect()
        defer { connection.close() }
        let entries = try AuditQuery.list(on: connection, filter)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(entries.map(json))))
            return
        }
        if entries.isEmpty {
            invocation.print("no audit entries match")
            return
        }
        let table = TableFormatter([
            .init("ID", alignment: .right), .init("TIME"), .init("ACTION"), .init("ENTITY", maxWidth: 48),
            .init("ACTOR", maxWidth: 32), .init("SEAL", alignment: .right), .init("DETAILS", maxWidth: 60),
        ])
        invocation.output.write(
            table.render(
                entries.map { e in
                    [String(e.id), String(e.occurredAt.prefix(19)) + "Z", e.action.rawValue, "\(e.entityType) \(e.entityId)",
                     e.actor.description, e.chainPosition.map { "#\($0)" } ?? "pending", e.detailsJSON]
                }))
        if entries.count == filter.limit, let last = entries.last {
            invocation.print("(more: --before-id \(last.id))")
        }
    }

    /// A date, or a duration back from now.
    static func parseSince(_ text: String) throws -> Date {
        if let span = try? TimeSpan.parse(argument: text) { return Date().addingTimeInterval(-span.timeInterval) }
        if let date = ISODate.parse(text) { return date }
        throw UsageError("--since wants a date like 2025-01-31 or 2025-01-31T12:00:00Z, or a duration like 24h or 7d; got '\(text)'")
    }

    // MARK: show

    static let id = Argument<Int>("id", help: "The log id.")

    static let show = Command(
        "show", abstract: "Show one audit entry in full: metadata, actor, entity, details and seal.",
        options: CommandContext.options, arguments: [id]
    ) { invocation in
        let context = CommandContext(invocation)
        let logId = try invocation.value(id)
        let connection = try context.connect()
        defer { connection.close() }
        guard let detail = try AuditQuery.show(on: connection, id: Int64(logId)) else {
            invocation.printError("error: no audit entry with id \(logId)")
            throw ExitCode.failure
        }
        let e = detail.entry
        if context.json {
            var object = json(e)
            if case .object(var fields) = object {
                fields["action_description"] = .string(detail.actionDescription)
                fields["entity_entry_count"] = .int(Int(detail.entityEntryCount))
                fields["covering_checkpoint"] = detail.coveringCheckpoint.map { checkpointJSON($0) } ?? .null
                object = .object(fields)
            }
            invocation.output.write(try JSONOutput.string(object))
            return
        }
        var lines = [
            "Audit entry \(e.id)",
            "  time:         \(e.occurredAt)",
            "  action:       \(e.action)\(detail.actionDescription.isEmpty ? "" : " — \(detail.actionDescription)")",
            "",
            "Actor",
            "  type:         \(e.actor.kind.rawValue)",
            "  id:           \(e.actor.id)",
            "",
            "Entity",
            "  type:         \(e.entityType)",
            "  id:           \(e.entityId)",
            "  entries:      \(detail.entityEntryCount) (certbus audit list --entity-type \(e.entityType) --entity-id \(e.entityId))",
            "",
            "Details",
        ]
        lines += prettyJSON(e.detailsJSON).split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }
        lines += ["", "Seal", "  transaction:  \(e.transactionId)"]
        if let position = e.chainPosition, let hash = e.chainHash {
            lines.append("  position:     \(position)")
            lines.append("  chain hash:   \(hash.map { String(format: "%02x", $0) }.joined())")
            if let cp = detail.coveringCheckpoint {
                lines.append("  checkpoint:   \(cp.id) at position \(cp.chainPosition), signed \(AuditTimestamp.iso8601(microseconds: cp.signedAtMicroseconds))")
            } else {
                lines.append("  checkpoint:   none yet")
            }
        } else {
            lines.append("  position:     not sealed yet")
        }
        invocation.print(lines.joined(separator: "\n"))
    }

    static func prettyJSON(_ text: String) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)),
            let data = try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        else { return text }
        return String(decoding: data, as: UTF8.self)
    }

    static func json(_ e: AuditEntry) -> JSONValue {
        let details = (try? JSONDecoder().decode(JSONValue.self, from: Data(e.detailsJSON.utf8))) ?? .string(e.detailsJSON)
        return .object([
            "id": .int(Int(e.id)), "occurred_at": .string(e.occurredAt), "action": .string(e.action.rawValue),
            "entity_type": .string(e.entityType), "entity_id": .string(e.entityId),
            "actor_type": .string(e.actor.kind.rawValue), "actor_id": .string(e.actor.id), "details": details,
            "transaction_id": .string(String(e.transactionId)),
            "chain_position": e.chainPosition.map { .int(Int($0)) } ?? .null,
            "chain_hash": e.chainHash.map { .string($0.map { String(format: "%02x", $0) }.joined()) } ?? .null,
        ])
    }

    static func checkpointJSON(_ c: AuditCheckpoint) -> JSONValue {
        (try? JSONDecoder().decode(JSONValue.self, from: c.exportJSON())) ?? .null
    }

    // MARK: verify

    static let fromCheckpoint = Option<String>(
        "from-checkpoint", valueName: "file",
        help: "An exported checkpoint: the chain must match it, and verification may start there if older rows were archived.")

    static let verify = Command(
        "verify", abstract: "Recompute the hash chain and check every checkpoint; name the first bad row.",
        discussion: """
            Reads every sealed row's raw column values and recomputes the chain in certbus itself (no SQL \
            function is trusted). Checkpoint signatures are checked against the audit key's public half when \
            the key file is readable, else against the exported checkpoint's key, else against the key stored \
            with the checkpoints. Exit status 0 when the chain is intact, 1 when it is not.
            """,
        options: CommandContext.options + [fromCheckpoint]
    ) { invocation in
        let context = CommandContext(invocation)
        var verifier = AuditVerifier()
        if let file = invocation[fromCheckpoint] { verifier.exportedCheckpoint = try AuditCheckpoint.read(file: file) }
        let (path, _) = AuditSigningKey.location(environment: invocation.environment, homeDirectory: try context.target().homeDirectory)
        var keyNote: String?
        if FileManager.default.fileExists(atPath: path) {
            verifier.trustedPublicKey = try AuditSigningKey.load(path: path).publicKey
            keyNote = "trusted key: \(path)"
        }
        let connection = try context.connect()
        defer { connection.close() }
        let progress = CommandProgress(context)
        if progress.isDrawing {
            // The chain head's position: about how many rows there are to read (the unsealed few come on top).
            let sealed = Int(try AuditSealer.head(on: connection).position)
            verifier.onProgress = { read in progress.count("verifying the audit chain", done: read, total: sealed, unit: "rows") }
        }
        var report = try verifier.verify(on: connection)
        progress.finish()
        if let keyNote { report.notes.insert(keyNote, at: 0) }
        if context.json {
            invocation.output.write(try JSONOutput.string(report))
        } else {
            var lines: [String] = []
            if let problem = report.problem {
                lines.append("audit chain INVALID: \(problem.message)")
                if let row = problem.rowId { lines.append("  first bad row: \(row) (certbus audit show \(row))") }
                if let position = problem.chainPosition { lines.append("  chain position: \(position)") }
                if let checkpoint = problem.checkpointId, checkpoint > 0 { lines.append("  checkpoint: \(checkpoint)") }
                lines.append("  rows verified before it: \(report.rowsVerified)")
            } else {
                let range = report.firstPosition.map { "positions \($0)–\(report.lastPosition ?? $0)" } ?? "empty chain"
                lines.append("audit chain OK: \(report.rowsVerified) rows (\(range)), started from \(report.startedFrom)")
                lines.append("  checkpoints verified: \(report.checkpointsVerified)"
                    + (verifier.exportedCheckpoint != nil ? "; exported checkpoint matched: \(report.exportedCheckpointMatched ? "yes" : "not reached (before the start)")" : ""))
                if let head = report.headHash { lines.append("  head hash: \(head)") }
                if report.rowsBeforeStart > 0 { lines.append("  rows covered by the starting checkpoint, not re-verified: \(report.rowsBeforeStart)") }
            }
            lines.append("  unsealed rows: \(report.unsealedRows)")
            lines += report.notes.map { "  note: " + $0 }
            invocation.print(lines.joined(separator: "\n"))
        }
        if !report.valid { throw ExitCode.failure }
    }

    // MARK: seal

    static let withCheckpoint = Flag("checkpoint", help: "Also sign a checkpoint of the new head (needs the audit key).")

    static let seal = Command(
        "seal", abstract: "Seal committed audit rows now (what the audit sealer service does continuously).",
        options: CommandContext.options + [withCheckpoint]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect(applicationName: "certbus-audit-seal")
        defer { connection.close() }
        let progress = CommandProgress(context)
        let backlog = progress.isDrawing ? Int(try AuditSealer.unsealedCount(on: connection)) : nil
        let sealed = try AuditSealer().sealAvailable(on: connection) { total in
            progress.count("sealing audit rows", done: total, total: backlog, unit: "rows")
        }
        progress.finish()
        var checkpoint: AuditCheckpoint?
        if invocation[withCheckpoint] {
            let key = try AuditSigningKey.load(environment: invocation.environment, homeDirectory: try context.target().homeDirectory)
            checkpoint = try AuditCheckpointWriter(key: key).writeIfDue(on: connection, force: true)
        }
        let head = try AuditSealer.head(on: connection)
        let pending = try AuditSealer.unsealedCount(on: connection)
        try context.emit(
            text: "sealed \(sealed) row(s); chain head at position \(head.position); \(pending) row(s) still unsealed"
                + (checkpoint.map { "\ncheckpoint \($0.id) signed at position \($0.chainPosition)" } ?? ""),
            json: .object([
                "sealed": .int(sealed), "head_position": .int(Int(head.position)), "unsealed": .int(Int(pending)),
                "checkpoint": checkpoint.map { checkpointJSON($0) } ?? .null,
            ]))
    }

    // MARK: checkpoint export

    static let output = Option<String>("output", short: "o", valueName: "file", help: "Write to this file instead of standard output (refuses to overwrite).")
    static let fresh = Flag("new", help: "Seal what is committed and sign a new checkpoint first (needs the audit key).")

    static let checkpoint = Command(
        "checkpoint", abstract: "Signed checkpoints of the chain.", subcommands: [export])

    static let export = Command(
        "export", abstract: "Write the latest signed checkpoint as JSON, to keep somewhere the database's owner cannot change.",
        options: CommandContext.options + [output, fresh]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        var latest: AuditCheckpoint?
        if invocation[fresh] {
            let key = try AuditSigningKey.load(environment: invocation.environment, homeDirectory: try context.target().homeDirectory)
            _ = try AuditSealer().sealAvailable(on: connection)
            latest = try AuditCheckpointWriter(key: key).writeIfDue(on: connection, force: true)
        }
        latest = try latest ?? AuditCheckpoint.latest(on: connection)
        guard let latest else {
            invocation.printError("error: there is no checkpoint yet (the sealer writes one once rows are sealed; or use --new)")
            throw ExitCode.failure
        }
        let data = try latest.exportJSON()
        if let path = invocation[output] {
            guard !FileManager.default.fileExists(atPath: path) else {
                throw AuditError("\(path) already exists; choose another file (an exported checkpoint is never overwritten)")
            }
            do {
                try data.write(to: URL(fileURLWithPath: path), options: .withoutOverwriting)
            } catch {
                throw AuditError("cannot write \(path): \(error.localizedDescription)")
            }
            invocation.printError("checkpoint \(latest.id) (position \(latest.chainPosition)) written to \(path)")
        } else {
            invocation.output.write(String(decoding: data, as: UTF8.self))
        }
    }
}
