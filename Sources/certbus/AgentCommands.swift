import CertbusArguments
import CertbusServices
import Foundation
import Postgres

/// `certbus agent --name N ...`: runs an agent; `certbus agent list|register`: manages agents.
enum AgentCommands {
    static let name = Option<String>("name", valueName: "name", help: "The agent's name (certbus.agents.name).")
    static let endpoint = Option<String>(
        "endpoint", valueName: "name", repeatable: true, help: "Serve only this endpoint (repeatable; default: every endpoint of the agent).")
    static let directory = Option<String>(
        "directory", valueName: "dir",
        help: "Where certificates are written, one folder per endpoint (default: $CERTBUS_HOME/agent or ./.certbus/agent).")
    static let postInstall = Option<String>(
        "post-install", valueName: "command", help: "Shell command run after each install, e.g. 'systemctl reload nginx'.")
    static let postInstallTimeout = Option<TimeSpan>(
        "post-install-timeout", default: TimeSpan(seconds: 60), help: "Kill the post-install command after this long.")
    static let issuanceWait = Option<TimeSpan>(
        "issuance-wait", default: TimeSpan(seconds: 120), help: "How long one attempt waits for the CA before giving the job back.")
    static let pollInterval = Option<TimeSpan>(
        "poll-interval", default: TimeSpan(seconds: 10), help: "Look for jobs at least this often (NOTIFY wakes the agent sooner).")
    static let once = Flag("once", help: "Heartbeat, run the jobs that are due, and exit.")
    static let agentName = Argument<String>("name", help: "Agent name.")
    static let loginRole = Option<String>(
        "login-role", valueName: "role", help: "PostgreSQL login role the agent connects as (a member of certbus_agent).")

    static let command = Command(
        "agent", abstract: "Run an agent next to a web server, or manage agents.",
        discussion: """
            The agent heartbeats, claims INSTALL_CERT jobs of its own queue for its endpoints, generates \\
            private keys locally (only CSRs leave the host), writes cert.pem, chain.pem, fullchain.pem and \\
            key.pem (mode 0600) atomically into <directory>/<endpoint>/, runs the post-install command, and \\
            moves the endpoint to Install validation in progress. Run it with its own database role \\
            (--database-url postgresql://ROLE@HOST/certbus, a member of certbus_agent): that role can do \\
            nothing but this agent's work. SIGINT/SIGTERM: finish the job in hand and exit.
            """,
        options: CommandContext.options + [name, endpoint, directory, postInstall, postInstallTimeout, issuanceWait, pollInterval, once],
        subcommands: [list, register]
    ) { invocation in
        let context = CommandContext(invocation)
        guard let agent = invocation[name] else { throw UsageError("--name is required to run an agent") }
        let folder = invocation[directory] ?? defaultDirectory(invocation.environment)
        let command = invocation[postInstall].map {
            PostInstallCommand(command: $0, timeout: invocation[postInstallTimeout]!.timeInterval)
        }
        let configuration = AgentRunner.Configuration(
            name: agent, endpoints: invocation.values(endpoint),
            handler: InstallCertificateHandler(
                directory: folder, postInstall: command, issuanceWait: invocation[issuanceWait]!.timeInterval),
            pollInterval: max(1, invocation[pollInterval]!.timeInterval), version: CertbusVersion.current)
        let output = invocation.output
        let runner = AgentRunner(
            configuration: configuration, database: try context.configuration(applicationName: "certbus-agent"),
            log: { line in output.write("\(PostgresTimestamp.format(Date())) \(line)\n") })
        let runOnce = invocation[once]
        let signals = SignalHandler { _ in runner.stop() }
        defer { signals.cancel() }
        let results = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[InstallResult], Error>) in
            Thread {
                do {
                    continuation.resume(returning: try runner.run(once: runOnce))
                } catch {
                    continuation.resume(throwing: error)
                }
            }.start()
        }
        if runOnce && context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.array(results.map { result in
                [
                    "outcome": .string(result.outcome.rawValue), "job_status": .string(result.jobStatus),
                    "message": .string(result.message),
                    "certificate_id": result.certificateId.map { .string($0.uuidString.lowercased()) } ?? .null,
                ]
            })))
        }
        if results.contains(where: { $0.jobStatus == "FAILED" }) { throw ExitCode.failure }
    }

    static func defaultDirectory(_ environment: [String: String]) -> String {
        if let home = environment["CERTBUS_HOME"], !home.isEmpty { return (home as NSString).appendingPathComponent("agent") }
        return (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(".certbus/agent")
    }

    static let list = Command(
        "list", abstract: "List agents with their liveness.", options: CommandContext.options
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let agents = try AgentStore.list(on: connection)
        let table = TableFormatter([.init("NAME"), .init("STATUS"), .init("LAST SEEN"), .init("HOST"), .init("VERSION"), .init("ROLE")])
            .render(agents.map { a in
                [a.name, a.status.rawValue, EndpointOutput.time(a.lastSeenAt), a.hostname, a.version, a.loginRole ?? ""]
            })
        try context.emit(text: agents.isEmpty ? "no agents" : table, json: .array(agents.map(EndpointOutput.json)))
    }

    static let register = Command(
        "register", abstract: "Register an agent (and the database role it logs in as).",
        options: CommandContext.options + [loginRole], arguments: [agentName]
    ) { invocation in
        let context = CommandContext(invocation)
        let connection = try context.connect()
        defer { connection.close() }
        let agent = try AgentStore.register(
            name: try invocation.value(agentName), loginRole: invocation[loginRole],
            actor: EndpointArguments.operatorActor(invocation), on: connection)
        try context.emit(
            text: "agent \(agent.name) (\(agent.id.uuidString.lowercased())), queue \(agent.queue)"
                + (agent.loginRole.map { ", role \($0)" } ?? ""),
            json: EndpointOutput.json(agent))
    }
}
