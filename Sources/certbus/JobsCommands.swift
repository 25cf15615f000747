import CertbusArguments
import CertbusBus
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus jobs list|show|retry|cancel|enqueue`: look at and act on the job queue.
enum JobsCommands {
    static let command = Command(
        "jobs", abstract: "List, inspect, retry, cancel and enqueue jobs.",
        discussion: """
            Every lifecycle operation is a job in certbus.jobs, run by `certbus worker` processes. \
            Retry and cancel are recorded in the audit log with you (the OS user) as the actor.
            """,
        subcommands: [list, show, retry, cancel, enqueue, JobsWatchCommand.command])

    // MARK: list

    static let statusOption = Option<String>(
        "status", valueName: "status", repeatable: true, help: "Only jobs in this status (QUEUED, RUNNING, SUCCESS, FAILED, CANCELLED); repeatable.")
    static let kindOption = Option<String>("kind", valueName: "kind", repeatable: true, help: "Only jobs of this kind, e.g. ISSUE_CERT; repeatable.")
    static let sinceOption = Option<String>(
        "since", valueName: "when", help: "Only jobs enqueued since then: a duration ago (30m, 24h, 7d) or a date (2025-01-31, 2025-01-31T12:00:00Z).")
    static let queueOption = Option<String>("queue", valueName: "name", help: "Only jobs of this queue.")
    static let limitOption = Option<Int>("limit", short: "n", default: 50, help: "Show at most this many jobs, newest first.")

    static let list = Command(
        "list", abstract: "List jobs, newest first.",
        options: CommandContext.options + [statusOption, kindOption, sinceOption, queueOption, limitOption]
    ) { invocation in
        let context = CommandContext(invocation)
        let filter = try JobFilter(
            statuses: invocation.values(statusOption).map(parseStatus), kinds: invocation.values(kindOption).map(parseKind),
            since: invocation[sinceOption].map { try parseSince($0) }, queue: invocation[queueOption], limit: invocation[limitOption]!)
        guard filter.limit >= 1 else { throw UsageError("--limit must be at least 1") }
        let connection = try context.connect()
        defer { connection.close() }
        let jobs = try JobQueue.list(on: connection, filter: filter)
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(jobs.map(json))))
            return
        }
        if jobs.isEmpty {
            invocation.print("no jobs")
            return
        }
        var table = TableFormatter([
            .init("ID", alignment: .right), .init("KIND"), .init("STATUS"), .init("ATTEMPT"), .init("QUEUE"),
            .init("CREATED"), .init("DURATION", alignment: .right), .init("NAME", maxWidth: 40), .init("ERROR", maxWidth: 60),
        ])
        table.separator = "  "
        invocation.print(
            table.render(
                jobs.map { job in
                    [
                        String(job.id), job.kind.rawValue, job.status.rawValue, "\(job.attempt)/\(job.maxAttempts)", job.queue,
                        time(job.createdAt), job.durationSeconds.map(seconds) ?? "", job.name, job.error ?? "",
                    ]
                }), terminator: "")
    }

    // MARK: show

    static let idArgument = Argument<Int>("id", help: "The job id.")

    static let show = Command(
        "show", abstract: "Show everything about one job, with its attempts.",
        options: CommandContext.options, arguments: [idArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let id = Int64(try invocation.value(idArgument))
        let connection = try context.connect()
        defer { connection.close() }
        guard let job = try JobQueue.job(on: connection, id: id) else {
            throw JobQueueError(.notFound, "no job with id \(id)")
        }
        let attempts = try JobQueue.attempts(on: connection, jobId: id)
        if context.json {
            var object = json(job)
            if case .object(var fields) = object {
                fields["attempts"] = .array(attempts.map(json))
                object = .object(fields)
            }
            invocation.output.write(try JSONOutput.string(object))
            return
        }
        invocation.print(describe(job, attempts: attempts), terminator: "")
    }

    // MARK: retry / cancel

    static let retry = Command(
        "retry", abstract: "Queue a FAILED or CANCELLED job again (or run a waiting QUEUED job now).",
        discussion: "A retried job gets a fresh budget of its kind's default attempts; its earlier attempts stay in its history.",
        options: CommandContext.options, arguments: [idArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let id = Int64(try invocation.value(idArgument))
        let connection = try context.connect()
        defer { connection.close() }
        try JobQueue.retry(on: connection, jobId: id, actor: operatorActor(invocation))
        try context.emit(text: "job \(id) queued again", json: ["id": .int(Int(id)), "status": "QUEUED"])
    }

    static let cancel = Command(
        "cancel", abstract: "Cancel a job: a QUEUED job at once, a RUNNING one as soon as its worker notices.",
        options: CommandContext.options, arguments: [idArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let id = Int64(try invocation.value(idArgument))
        let connection = try context.connect()
        defer { connection.close() }
        let outcome = try JobQueue.cancel(on: connection, jobId: id, actor: operatorActor(invocation))
        let text: String
        switch outcome {
        case .cancelled: text = "job \(id) cancelled"
        case .cancelRequested: text = "job \(id) is running; its worker was asked to stop and will end it CANCELLED"
        }
        try context.emit(text: text, json: ["id": .int(Int(id)), "outcome": .string(outcome.rawValue)])
    }

    // MARK: enqueue

    static let kindArgument = Argument<String>("kind", help: "The job kind, e.g. CA_REFRESH (see certbus.job_kinds).")
    static let payloadOption = Option<String>("payload", valueName: "json", default: "{}", help: "The input payload, a JSON object.")
    static let nameOption = Option<String>("name", valueName: "text", help: "A human-readable name (default: the kind).")
    static let priorityOption = Option<Int>("priority", default: 100, help: "0 (most urgent) to 1000; lower runs first.")
    static let runAtOption = Option<String>(
        "run-at", valueName: "when", help: "Not before then: a delay from now (10m, 2h) or a date (2025-01-31T12:00:00Z).")
    static let uniqueKeyOption = Option<String>(
        "unique-key", valueName: "key", help: "Refuse the job if one of the same kind and key is already queued or running.")
    static let maxAttemptsOption = Option<Int>("max-attempts", help: "Attempts allowed (default: the kind's).")
    static let enqueueQueueOption = Option<String>("queue", valueName: "name", default: "default", help: "The queue.")

    static let enqueue = Command(
        "enqueue", abstract: "Enqueue a job by hand (recorded in the audit log).",
        options: CommandContext.options + [
            payloadOption, nameOption, priorityOption, runAtOption, uniqueKeyOption, maxAttemptsOption, enqueueQueueOption,
        ],
        arguments: [kindArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let actor = operatorActor(invocation)
        let kind = try parseKind(try invocation.value(kindArgument))
        let job = NewJob(
            kind: kind, payloadJSON: invocation[payloadOption]!, name: invocation[nameOption],
            priority: invocation[priorityOption]!, runAt: try invocation[runAtOption].map { try parseRunAt($0) },
            uniqueKey: invocation[uniqueKeyOption], maxAttempts: invocation[maxAttemptsOption],
            queue: invocation[enqueueQueueOption]!, triggeredBy: actor)
        let connection = try context.connect()
        defer { connection.close() }
        let id = try connection.withTransaction { c -> Int64 in
            let id = try JobQueue.enqueue(on: c, job)
            _ = try AuditTrail.record(
                on: c, action: .jobEnqueued, entityType: .job, entityId: String(id), actor: actor,
                details: ["kind": kind.rawValue, "queue": job.queue, "priority": job.priority])
            return id
        }
        try context.emit(text: "enqueued job \(id) (\(kind))", json: ["id": .int(Int(id)), "kind": .string(kind.rawValue)])
    }

    // MARK: helpers

    /// The operator running the command: USER and the OS user name.
    static func operatorActor(_ invocation: Invocation) -> Actor {
        let name = invocation.environment["CERTBUS_USER"].flatMap { $0.isEmpty ? nil : $0 }
            ?? invocation.environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? NSUserName()
        return .user(name.isEmpty ? "unknown" : name)
    }

    static func parseStatus(_ word: String) throws -> JobStatus {
        guard let status = JobStatus(rawValue: word.uppercased()) else {
            throw UsageError(
                "unknown job status '\(word)' (one of: \(JobStatus.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        return status
    }

    static func parseKind(_ word: String) throws -> JobKind {
        let kind = word.uppercased()
        guard kind.range(of: #"^[A-Z][A-Z0-9_]{0,62}$"#, options: .regularExpression) != nil else {
            throw UsageError("'\(word)' is not a job kind (kinds look like ISSUE_CERT)")
        }
        return JobKind(kind)
    }

    /// `30m` (ago) or an ISO date.
    static func parseSince(_ word: String, now: Date = Date()) throws -> Date {
        if let span = try? TimeSpan.parse(argument: word) { return now.addingTimeInterval(-span.timeInterval) }
        if let date = ISODate.parse(word) { return date }
        throw UsageError("--since wants a duration ago (30m, 24h, 7d) or a date (2025-01-31T12:00:00Z), not '\(word)'")
    }

    /// `10m` (from now) or an ISO date.
    static func parseRunAt(_ word: String, now: Date = Date()) throws -> Date {
        if let span = try? TimeSpan.parse(argument: word) { return now.addingTimeInterval(span.timeInterval) }
        if let date = ISODate.parse(word) { return date }
        throw UsageError("--run-at wants a delay from now (10m, 2h) or a date (2025-01-31T12:00:00Z), not '\(word)'")
    }

    static func time(_ date: Date?) -> String { date.map(PostgresTimestamp.format) ?? "" }

    static func seconds(_ value: Double) -> String { String(format: "%.3fs", value) }

    static func describe(_ job: JobRecord, attempts: [JobAttemptRecord]) -> String {
        var lines: [(String, String)] = [
            ("Job ID", String(job.id)),
            ("Name", job.name),
            ("Type", job.kind.rawValue),
            ("Status", job.status.rawValue + (job.cancelRequestedAt != nil && job.status == .running ? " (cancel requested)" : "")),
            ("CA ID", job.caId?.uuidString.lowercased() ?? "-"),
            ("Certificate ID", job.certificateId?.uuidString.lowercased() ?? "-"),
            ("Queue / priority", "\(job.queue) / \(job.priority)"),
            ("Enqueued", time(job.createdAt)),
            ("Scheduled", time(job.runAt)),
            ("Started", job.startedAt.map(time) ?? "-"),
            ("Completed", job.completedAt.map(time) ?? "-"),
            ("Duration", job.durationSeconds.map(seconds) ?? "-"),
            ("Triggered by", job.triggeredBy.description),
            ("Attempts", "\(job.attempt) of \(job.maxAttempts)"),
        ]
        if let key = job.uniqueKey { lines.append(("Unique key", key)) }
        if let worker = job.lockedBy {
            lines.append(("Worker", worker))
            lines.append(("Lease expires", time(job.leaseExpiresAt)))
        }
        lines.append(("Issued certificate ID", job.issuedCertificateId?.uuidString.lowercased() ?? "-"))
        lines.append(("CA external request ID", job.caRequestId ?? "-"))
        lines.append(("Input payload", job.payload))
        lines.append(("Output", job.output ?? "-"))
        lines.append(("Error", job.error ?? "-"))
        let width = lines.map(\.0.count).max() ?? 0
        var text = lines.map { $0.0 + ":" + String(repeating: " ", count: width - $0.0.count + 2) + $0.1 }.joined(separator: "\n") + "\n"
        if attempts.isEmpty {
            text += "\nNo finished attempts.\n"
        } else {
            text += "\nAttempts:\n"
            text += TableFormatter([
                .init("#", alignment: .right), .init("OUTCOME"), .init("WORKER"), .init("STARTED"),
                .init("DURATION", alignment: .right), .init("ERROR"),
            ]).render(
                attempts.map {
                    [String($0.attempt), $0.outcome.rawValue, $0.workerId, time($0.startedAt), seconds($0.durationSeconds), $0.error ?? ""]
                })
        }
        return text
    }

    static func json(_ job: JobRecord) -> JSONValue {
        func optional(_ text: String?) -> JSONValue { text.map { .string($0) } ?? .null }
        func jsonText(_ text: String?) -> JSONValue {
            guard let text, let value = try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8)) else { return optional(text) }
            return value
        }
        return .object([
            "id": .int(Int(job.id)), "name": .string(job.name), "type": .string(job.kind.rawValue),
            "status": .string(job.status.rawValue), "queue": .string(job.queue), "priority": .int(job.priority),
            "ca_id": optional(job.caId?.uuidString.lowercased()),
            "certificate_id": optional(job.certificateId?.uuidString.lowercased()),
            "enqueued_at": .string(time(job.createdAt)), "scheduled_at": .string(time(job.runAt)),
            "started_at": optional(job.startedAt.map(time)), "completed_at": optional(job.completedAt.map(time)),
            "duration_seconds": job.durationSeconds.map { .double($0) } ?? .null,
            "triggered_by": .object(["type": .string(job.triggeredBy.kind.rawValue), "id": .string(job.triggeredBy.id)]),
            "input_payload": jsonText(job.payload), "output": jsonText(job.output), "error": optional(job.error),
            "issued_certificate_id": optional(job.issuedCertificateId?.uuidString.lowercased()),
            "ca_request_id": optional(job.caRequestId), "attempt": .int(job.attempt), "max_attempts": .int(job.maxAttempts),
            "unique_key": optional(job.uniqueKey), "locked_by": optional(job.lockedBy),
            "lease_expires_at": optional(job.leaseExpiresAt.map(time)),
            "cancel_requested_at": optional(job.cancelRequestedAt.map(time)),
        ])
    }

    static func json(_ attempt: JobAttemptRecord) -> JSONValue {
        .object([
            "attempt": .int(attempt.attempt), "outcome": .string(attempt.outcome.rawValue),
            "worker_id": .string(attempt.workerId), "started_at": .string(time(attempt.startedAt)),
            "finished_at": .string(time(attempt.finishedAt)), "duration_seconds": .double(attempt.durationSeconds),
            "error": attempt.error.map { .string($0) } ?? .null,
        ])
    }
}

extension Invocation {
    /// Prints `text` with a chosen terminator.
    func print(_ text: String, terminator: String) { output.write(text + terminator) }
}
