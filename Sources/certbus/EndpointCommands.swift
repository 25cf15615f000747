import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation
import Postgres

/// `certbus endpoint add|list|show|status-history|set-status|set-certificate`: the endpoint inventory
/// and its automation statuses.
enum EndpointCommands {
    static let kind = Option<String>("kind", valueName: "kind", help: "agent, sensor or admin-web-request.")
    static let host = Option<String>("host", valueName: "host", help: "Host name or IP address of the TLS service.")
    static let port = Option<Int>("port", default: 443, help: "TCP port of the TLS service.")
    static let serverName = Option<String>(
        "server-name", valueName: "name", help: "Name sent as SNI and checked on the certificate (default: the host, if a name).")
    static let certificate = Option<String>(
        "certificate", valueName: "id|sha256", help: "The certificate expected there (id or SHA-256 fingerprint).")
    static let agent = Option<String>("agent", valueName: "name", help: "For agent endpoints: the agent installing here (registered if new).")
    static let description = Option<String>("description", valueName: "text", help: "Free text.")
    static let initialStatus = Option<String>(
        "status", valueName: "status", help: "First automation status (default: Configured, or Not configured for an agent endpoint without agent).")
    static let statusFilter = Option<String>("status", valueName: "status", help: "Only endpoints in this automation status.")
    static let agentFilter = Option<String>("agent", valueName: "name", help: "Only endpoints of this agent.")
    static let message = Option<String>("message", valueName: "text", default: "", help: "Why (kept in the status history).")
    static let name = Argument<String>("name", help: "Endpoint name.")
    static let reference = Argument<String>("endpoint", help: "Endpoint name or id.")
    static let statusArgument = Argument<String>("status", help: "Automation status: code (install-validation-failed) or title.")
    static let certificateArgument = Argument<String>("certificate", help: "Certificate id or SHA-256 fingerprint; 'none' clears it.")
    static let installCertificate = Option<String>(
        "certificate", valueName: "id|sha256", help: "Install this issued certificate (the agent must hold its key).")
    static let profile = Option<String>(
        "profile", valueName: "profile", help: "Have the agent generate a key and request a certificate under this RA profile.")
    static let keyAlgorithm = Option<String>(
        "key-algorithm", valueName: "alg", allowed: ["EC-P256", "EC-P384", "RSA-2048", "RSA-3072", "RSA-4096", "ED25519"],
        help: "Key the agent generates (default EC-P256).")
    static let subjectName = Option<String>(
        "san", valueName: "name", repeatable: true, help: "Name for the CSR (repeatable; default: the endpoint's server name).")
    static let wait = Flag("wait", help: "Wait until a worker has run the job and print its result.")
    static let waitTimeout = Option<TimeSpan>("timeout", default: TimeSpan(seconds: 120), help: "How long --wait waits.")

    static let command = Command(
        "endpoint", abstract: "Add and inspect endpoints and their automation status.",
        discussion: """
            Endpoints are where certificates are deployed: web servers with an agent (agent), network \
            appliances or cloud services watched by a sensor (sensor), admin web requests \
            (admin-web-request). Each carries one automation status from the product's catalogue of 42; \
            a status changes only along the automation state machine, and every change is kept.
            """,
        subcommands: [add, list, show, statusHistory, setStatus, setCertificate, install, validate])

    static let add = Command(
        "add", abstract: "Add an endpoint.",
        options: CommandContext.options + [kind, host, port, serverName, certificate, agent, description, initialStatus],
        arguments: [name]
    ) { invocation in
        let context = CommandContext(invocation)
        guard let kindWord = invocation[kind] else { throw UsageError("--kind is required (agent, sensor or admin-web-request)") }
        guard let hostName = invocation[host] else { throw UsageError("--host is required") }
        let draft = EndpointDraft(
            name: try invocation.value(name), kind: try EndpointArguments.kind(kindWord), host: hostName, port: invocation[port]!,
            serverName: invocation[serverName], expectedCertificate: invocation[certificate], agentName: invocation[agent],
            description: invocation[description] ?? "", initialStatus: try invocation[initialStatus].map(EndpointArguments.status))
        try draft.validate()
        let connection = try context.connect()
        defer { connection.close() }
        let endpoint = try EndpointStore.add(draft, actor: EndpointArguments.operatorActor(invocation), on: connection)
        try context.emit(
            text: "added endpoint \(endpoint.name) (\(endpoint.kind.rawValue), \(endpoint.address)): \(endpoint.automationStatus.title)",
            json: EndpointOutput.json(endpoint))
    }

    static let list = Command(
        "list", abstract: "List endpoints with their automation status.",
        options: CommandContext.options + [kind, statusFilter, agentFilter]
    ) { invocation in
        let context = CommandContext(invocation)
        let kindValue = try invocation[kind].map(EndpointArguments.kind)
        let statusValue = try invocation[statusFilter].map(EndpointArguments.status)
        let connection = try context.connect()
        defer { connection.close() }
        let agentId = try invocation[agentFilter].map { try AgentStore.find($0, on: connection).id }
        let endpoints = try EndpointStore.list(kind: kindValue, status: statusValue, agentId: agentId, on: connection)
        try context.emit(
            text: endpoints.isEmpty ? "no endpoints" : EndpointOutput.table(endpoints),
            json: .array(endpoints.map(EndpointOutput.json)))
    }

    static let show = Command(
        "show", abstract: "Show one endpoint, its recent status history and last validation.",
        options: CommandContext.options, arguments: [reference]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let endpoint = try EndpointStore.find(try invocation.value(reference), on: connection)
        let history = try EndpointStore.history(of: endpoint.id, on: connection)
        let validation = try connection.query(
            """
            SELECT outcome, checked_at, served_fingerprint, protocol, problems::text AS problems, error
              FROM certbus.deployment_validations WHERE endpoint_id = $1 ORDER BY id DESC LIMIT 1
            """, [endpoint.id]
        ).firstRow
        var text = EndpointOutput.details(endpoint)
        var json = EndpointOutput.json(endpoint)
        if let validation {
            let outcome: String = try validation.decode("outcome")
            let at: Date = try validation.decode("checked_at")
            let error: String? = try validation.decode("error")
            text += "\nlast validation:    \(outcome) at \(EndpointOutput.time(at))\(error.map { " (\($0))" } ?? "")"
            if case .object(var object) = json {
                object["last_validation"] = [
                    "outcome": .string(outcome), "checked_at": .date(at),
                    "served_fingerprint": (try validation.decode("served_fingerprint", as: String?.self)).map { .string($0) } ?? .null,
                    "error": error.map { .string($0) } ?? .null,
                ]
                json = .object(object)
            }
        }
        let recent = Array(history.suffix(10))
        text += "\n\nstatus history (latest \(recent.count) of \(history.count)):\n" + EndpointOutput.table(recent)
        if case .object(var object) = json {
            object["status_history"] = .array(recent.map(EndpointOutput.json))
            json = .object(object)
        }
        try context.emit(text: text, json: json)
    }

    static let statusHistory = Command(
        "status-history", abstract: "Every automation status the endpoint has had, oldest first.",
        options: CommandContext.options, arguments: [reference]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let endpoint = try EndpointStore.find(try invocation.value(reference), on: connection)
        let history = try EndpointStore.history(of: endpoint.id, on: connection)
        try context.emit(text: EndpointOutput.table(history), json: .array(history.map(EndpointOutput.json)))
    }

    static let setStatus = Command(
        "set-status", abstract: "Move an endpoint to another automation status (only along the state machine).",
        discussion: """
            For operators: e.g. hand an endpoint in an error status to a person (action-required), reset it \
            (configured), or turn automation off (not-configured). Illegal moves are refused with the reason \
            and change nothing.
            """,
        options: CommandContext.options + [message], arguments: [reference, statusArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let target = try EndpointArguments.status(try invocation.value(statusArgument))
        let connection = try context.connect()
        defer { connection.close() }
        let endpoint = try EndpointStore.find(try invocation.value(reference), on: connection)
        try EndpointStore.changeStatus(
            endpoint.id, to: target, actor: EndpointArguments.operatorActor(invocation), message: invocation[message]!,
            on: connection)
        let now = try EndpointStore.find(id: endpoint.id, on: connection)
        try context.emit(
            text: "\(now.name): \(endpoint.automationStatus.title) -> \(now.automationStatus.title)", json: EndpointOutput.json(now))
    }

    static let setCertificate = Command(
        "set-certificate", abstract: "Set the certificate expected on an endpoint ('none' clears it).",
        options: CommandContext.options, arguments: [reference, certificateArgument]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let endpoint = try EndpointStore.find(try invocation.value(reference), on: connection)
        let given = try invocation.value(certificateArgument)
        try EndpointStore.setExpectedCertificate(
            given == "none" ? nil : given, of: endpoint.id, actor: EndpointArguments.operatorActor(invocation), on: connection)
        let now = try EndpointStore.find(id: endpoint.id, on: connection)
        try context.emit(
            text: "\(now.name) expects \(now.expectedCertificateId?.uuidString.lowercased() ?? "no certificate")",
            json: EndpointOutput.json(now))
    }

    static let install = Command(
        "install", abstract: "Ask the endpoint's agent to install a certificate (INSTALL_CERT on its queue).",
        discussion: """
            With --profile the agent generates the private key on its host, submits only a CSR, waits for \
            the certificate, installs it and runs its post-install command. With --certificate it installs \
            an issued certificate whose key it already holds. The endpoint goes to Automation requested; \
            one install per endpoint at a time.
            """,
        options: CommandContext.options + [installCertificate, profile, keyAlgorithm, subjectName], arguments: [reference]
    ) { invocation in
        let context = CommandContext(invocation)
        let certificateGiven = invocation[installCertificate]
        let profileGiven = invocation[profile]
        guard (certificateGiven == nil) != (profileGiven == nil) else {
            throw UsageError("give either --certificate or --profile")
        }
        if certificateGiven != nil && (invocation[keyAlgorithm] != nil || !invocation.values(subjectName).isEmpty) {
            throw UsageError("--key-algorithm and --san go with --profile")
        }
        let names = invocation.values(subjectName)
        for name in names {
            if NetworkHost.hostProblem(name) != nil { throw UsageError("--san \(name) is not a host name or IP address") }
        }
        let connection = try context.connect()
        defer { connection.close() }
        let endpoint = try EndpointStore.find(try invocation.value(reference), on: connection)
        let jobId = try InstallRequest.enqueue(
            endpointId: endpoint.id, certificate: certificateGiven, profile: profileGiven, keyAlgorithm: invocation[keyAlgorithm],
            names: names.isEmpty ? nil : names, actor: EndpointArguments.operatorActor(invocation), on: connection)
        try context.emit(
            text: "queued INSTALL_CERT job \(jobId) for \(endpoint.name) (agent \(endpoint.agentName ?? "?"))",
            json: ["job_id": .int(Int(jobId)), "endpoint": .string(endpoint.name)])
    }

    static let validate = Command(
        "validate", abstract: "Check that the endpoint serves its expected certificate (VALIDATE_DEPLOYMENT).",
        options: CommandContext.options + [wait, waitTimeout], arguments: [reference]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let endpoint = try EndpointStore.find(try invocation.value(reference), on: connection)
        let jobId = try DeploymentValidation.enqueue(endpointId: endpoint.id, actor: EndpointArguments.operatorActor(invocation), on: connection)
        guard invocation[wait] else {
            try context.emit(
                text: "queued VALIDATE_DEPLOYMENT job \(jobId) for \(endpoint.name)",
                json: ["job_id": .int(Int(jobId)), "endpoint": .string(endpoint.name)])
            return
        }
        let finished = try EndpointJobWait.wait(
            for: jobId, timeout: invocation[waitTimeout]!.timeInterval, on: connection, progress: CommandProgress(context))
        let now = try EndpointStore.find(id: endpoint.id, on: connection)
        try context.emit(
            text: "\(endpoint.name): validation \(finished.status == "SUCCESS" ? "passed" : "failed")"
                + (finished.error.map { ": \($0)" } ?? "") + "\nautomation status: \(now.automationStatus.title)",
            json: [
                "job_id": .int(Int(jobId)), "status": .string(finished.status), "error": finished.error.map { .string($0) } ?? .null,
                "endpoint": EndpointOutput.json(now),
            ])
        if finished.status != "SUCCESS" { throw ExitCode.failure }
    }
}
