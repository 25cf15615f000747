import CertbusArguments
import CertbusBus
import CertbusServices
import Foundation
import Postgres

/// `certbus discovery run|list|show`: find the certificates TLS services serve.
enum DiscoveryCommands {
    static let targets = Option<String>(
        "targets", valueName: "list", repeatable: true,
        help: "Comma-separated host:port, [ipv6]:port or small CIDR ranges address/prefix:port (at most 256 addresses each).")
    static let runName = Option<String>("name", valueName: "text", help: "A name for this discovery.")
    static let perTarget = Option<TimeSpan>("probe-timeout", default: TimeSpan(seconds: 5), help: "Timeout of each probe.")
    static let wait = Flag("wait", help: "Wait until a worker has run the discovery and print what it found.")
    static let waitTimeout = Option<TimeSpan>("timeout", default: TimeSpan(seconds: 600), help: "How long --wait waits.")
    static let limit = Option<Int>("limit", default: 20, help: "Runs to show.")
    static let runId = Argument<String>("discovery", help: "Discovery id.")

    static let command = Command(
        "discovery", abstract: "Find the certificates that TLS services serve.",
        discussion: """
            A DISCOVERY job probes each target with a TLS handshake (trusting nothing), records every \\
            served certificate certbus does not know yet (source DISCOVERED, one row per fingerprint), \\
            emits CERTIFICATE_DISCOVERED for each and DISCOVERY_FINISHED at the end.
            """,
        subcommands: [run, list, show])

    static let run = Command(
        "run", abstract: "Queue a discovery (a worker runs it).",
        options: CommandContext.options + [targets, runName, perTarget, wait, waitTimeout]
    ) { invocation in
        let context = CommandContext(invocation)
        let given = invocation.values(targets).flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
        guard !given.isEmpty else { throw UsageError("--targets is required, e.g. --targets 192.0.2.0/28:443,www.example.com:443") }
        let expanded: [HostPort]
        do throws(DiscoveryTargetError) {
            expanded = try DiscoveryTargets.parse(given)
        } catch {
            throw UsageError(error.description)
        }
        let timeout = Double(invocation[perTarget]!.seconds)
        guard (1...60).contains(timeout) else { throw UsageError("--probe-timeout must be between 1s and 60s") }
        let connection = try context.connect()
        defer { connection.close() }
        let payload = DiscoveryHandler.Payload(targets: given, name: invocation[runName], timeoutSeconds: timeout)
        let jobId = try JobQueue.enqueue(
            on: connection,
            try NewJob(
                kind: .discoverCertificates, payload: payload,
                name: "Discover \(expanded.count) target(s)" + (invocation[runName].map { ": \($0)" } ?? ""),
                triggeredBy: EndpointArguments.operatorActor(invocation)))
        guard invocation[wait] else {
            try context.emit(
                text: "queued DISCOVERY job \(jobId) for \(expanded.count) target(s)",
                json: ["job_id": .int(Int(jobId)), "targets": .int(expanded.count)])
            return
        }
        let finished = try EndpointJobWait.wait(
            for: jobId, timeout: invocation[waitTimeout]!.timeInterval, on: connection, progress: CommandProgress(context))
        guard finished.status == "SUCCESS",
            let row = try connection.query(
                "SELECT id FROM certbus.discovery_runs WHERE job_id = $1 AND status = 'COMPLETED' ORDER BY started_at DESC LIMIT 1",
                [jobId]
            ).firstRow
        else {
            invocation.printError("discovery job \(jobId) ended \(finished.status)\(finished.error.map { ": \($0)" } ?? "")")
            throw ExitCode.failure
        }
        try emitRun(try row.decode("id"), context: context, connection: connection)
    }

    static let list = Command(
        "list", abstract: "Recent discoveries.", options: CommandContext.options + [limit]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let rows = try connection.query(
            """
            SELECT id, name, status, started_at, targets_probed, targets_reachable, certificates_found, new_certificates, job_id
              FROM certbus.discovery_runs ORDER BY started_at DESC LIMIT $1
            """, [max(1, invocation[limit]!)])
        var lines: [[String]] = []
        var json: [JSONValue] = []
        for row in rows {
            let id: UUID = try row.decode("id")
            let started: Date = try row.decode("started_at")
            let values = [
                try row.decode("targets_probed", as: Int.self), try row.decode("targets_reachable", as: Int.self),
                try row.decode("certificates_found", as: Int.self), try row.decode("new_certificates", as: Int.self),
            ]
            lines.append([id.uuidString.lowercased(), try row.decode("name"), try row.decode("status"), EndpointOutput.time(started)]
                + values.map(String.init))
            json.append([
                "id": .string(id.uuidString.lowercased()), "name": .string(try row.decode("name")),
                "status": .string(try row.decode("status")), "started_at": .date(started),
                "targets_probed": .int(values[0]), "targets_reachable": .int(values[1]), "certificates_found": .int(values[2]),
                "new_certificates": .int(values[3]), "job_id": (try row.decode("job_id", as: Int64?.self)).map { .int(Int($0)) } ?? .null,
            ])
        }
        let table = TableFormatter([
            .init("ID"), .init("NAME"), .init("STATUS"), .init("STARTED"), .init("PROBED", alignment: .right),
            .init("REACHABLE", alignment: .right), .init("FOUND", alignment: .right), .init("NEW", alignment: .right),
        ]).render(lines)
        try context.emit(text: lines.isEmpty ? "no discoveries" : table, json: .array(json))
    }

    static let show = Command(
        "show", abstract: "What one discovery found, target by target.", options: CommandContext.options, arguments: [runId]
    ) { invocation in
        let context = CommandContext(invocation)
        guard let id = UUID(uuidString: try invocation.value(runId)) else {
            throw UsageError("'\(try invocation.value(runId))' is not a discovery id")
        }
        let connection = try context.connect()
        defer { connection.close() }
        try emitRun(id, context: context, connection: connection)
    }

    /// Prints a run's summary and findings.
    static func emitRun(_ id: UUID, context: CommandContext, connection: Connection) throws {
        guard let run = try connection.query(
            """
            SELECT status, targets_probed, targets_reachable, certificates_found, new_certificates FROM certbus.discovery_runs WHERE id = $1
            """, [id]
        ).firstRow else { throw CommandFailure("no discovery with id \(id.uuidString.lowercased())") }
        let findings = try connection.query(
            """
            SELECT f.host, f.port, f.outcome, f.is_new, f.fingerprint_sha256, f.protocol, f.error, c.common_name, c.not_after
              FROM certbus.discovery_findings f LEFT JOIN certbus.certificates c ON c.id = f.certificate_id
             WHERE f.run_id = $1 ORDER BY f.id
            """, [id])
        var lines: [[String]] = []
        var json: [JSONValue] = []
        for f in findings {
            let address = HostPortText.text(try f.decode("host"), try f.decode("port"))
            let outcome: String = try f.decode("outcome")
            let isNew: Bool = try f.decode("is_new")
            let name: String? = try f.decode("common_name")
            let error: String? = try f.decode("error")
            let notAfter: Date? = try f.decode("not_after")
            lines.append([
                address, outcome, isNew ? "new" : "", name ?? "", EndpointOutput.time(notAfter),
                ((try f.decode("fingerprint_sha256", as: String?.self)).map { String($0.prefix(16)) + "…" } ?? error ?? ""),
            ])
            json.append([
                "address": .string(address), "outcome": .string(outcome), "is_new": .bool(isNew),
                "common_name": name.map { .string($0) } ?? .null, "not_after": notAfter.map { .date($0) } ?? .null,
                "fingerprint_sha256": (try f.decode("fingerprint_sha256", as: String?.self)).map { .string($0) } ?? .null,
                "protocol": (try f.decode("protocol", as: String?.self)).map { .string($0) } ?? .null,
                "error": error.map { .string($0) } ?? .null,
            ])
        }
        let counts = [
            try run.decode("targets_probed", as: Int.self), try run.decode("targets_reachable", as: Int.self),
            try run.decode("certificates_found", as: Int.self), try run.decode("new_certificates", as: Int.self),
        ]
        let text = "discovery \(id.uuidString.lowercased()) \(try run.decode("status", as: String.self)): "
            + "\(counts[0]) probed, \(counts[1]) reachable, \(counts[2]) certificate(s), \(counts[3]) new\n"
            + TableFormatter([.init("TARGET"), .init("OUTCOME"), .init(""), .init("COMMON NAME"), .init("EXPIRES"), .init("SHA-256 / ERROR", maxWidth: 70)])
                .render(lines)
        try context.emit(
            text: text,
            json: [
                "id": .string(id.uuidString.lowercased()), "status": .string(try run.decode("status")),
                "targets_probed": .int(counts[0]), "targets_reachable": .int(counts[1]), "certificates_found": .int(counts[2]),
                "new_certificates": .int(counts[3]), "findings": .array(json),
            ])
    }
}

/// `host:port` with brackets for IPv6.
enum HostPortText {
    static func text(_ host: String, _ port: Int) -> String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
