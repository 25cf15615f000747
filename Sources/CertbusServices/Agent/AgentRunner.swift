import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// The `certbus agent` process: heartbeats, claims INSTALL_CERT jobs of its own queue for its
/// endpoints and runs them with `InstallCertificateHandler`, until stopped (or once, with `once`).
///
/// Every database call goes through `AgentClient`, so the agent works under a login role that is
/// only a member of `certbus_agent`.
public final class AgentRunner: @unchecked Sendable {
    /// How the agent runs.
    public struct Configuration: Sendable {
        /// The agent's name (certbus.agents.name).
        public var name: String
        /// Endpoint names this process serves; empty: every endpoint bound to the agent.
        public var endpoints: [String]
        /// The install handler (folder, post-install command, issuance wait).
        public var handler: InstallCertificateHandler
        /// Seconds between heartbeats.
        public var heartbeatInterval: Double
        /// Seconds between looks for jobs when no NOTIFY arrives.
        public var pollInterval: Double
        /// Lease of a claimed job, extended while waiting for issuance.
        public var leaseSeconds: Double
        /// Host name reported with heartbeats.
        public var hostname: String
        /// Version reported with heartbeats.
        public var version: String

        public init(
            name: String, endpoints: [String] = [], handler: InstallCertificateHandler, heartbeatInterval: Double = 15,
            pollInterval: Double = 10, leaseSeconds: Double = 300, hostname: String = ProcessInfo.processInfo.hostName,
            version: String = "dev"
        ) {
            self.name = name
            self.endpoints = endpoints
            self.handler = handler
            self.heartbeatInterval = heartbeatInterval
            self.pollInterval = pollInterval
            self.leaseSeconds = leaseSeconds
            self.hostname = hostname
            self.version = version
        }
    }

    /// Why the agent cannot start.
    public struct StartError: Error, CustomStringConvertible, Sendable {
        public var message: String
        public var description: String { message }
    }

    public let configuration: Configuration
    private let database: ConnectionConfiguration
    private let log: @Sendable (String) -> Void
    private let lock = NSLock()
    private var stopping = false

    public init(
        configuration: Configuration, database: ConnectionConfiguration, log: @escaping @Sendable (String) -> Void = { _ in }
    ) {
        self.configuration = configuration
        self.database = database
        self.log = log
    }

    /// Asks `run()` to return after the job in hand (at the next wake-up).
    public func stop() { lock.withLock { stopping = true } }

    private var isStopping: Bool { lock.withLock { stopping } }

    /// Finds the agent and its endpoints: the agent must exist (a service session registers it on first
    /// run); every `--endpoint` must be bound to it. Returns the client and the endpoint ids served.
    public func prepare(on connection: Connection) throws -> (client: AgentClient, endpoints: [(id: UUID, name: String)]) {
        let id: UUID
        do {
            id = try AgentClient.lookup(name: configuration.name, on: connection)
        } catch let error as PostgresError where error.sqlState == "P0002" {
            // Unknown: a trusted (service) session may register it; an agent role gets the error.
            do {
                id = try AgentStore.register(name: configuration.name, actor: .system("agent"), on: connection).id
            } catch {
                throw StartError(message: "no agent named \(configuration.name): register it first (certbus agent register \(configuration.name))")
            }
        } catch let error as PostgresError where error.sqlState == "42501" {
            throw StartError(message: "this database role may not act for agent \(configuration.name): \(error.message)")
        }
        let client = AgentClient(agentId: id)
        let bound = try client.endpoints(on: connection)
        var served: [(id: UUID, name: String)] = []
        for name in configuration.endpoints {
            guard let endpoint = bound.first(where: { $0.name == name }) else {
                let list = bound.isEmpty ? "none" : bound.map(\.name).joined(separator: ", ")
                throw StartError(message: "endpoint \(name) is not bound to agent \(configuration.name) (its endpoints: \(list))")
            }
            served.append(endpoint)
        }
        return (client, configuration.endpoints.isEmpty ? bound : served)
    }

    /// One round: heartbeat, then claim and run jobs until none is due. Returns the results.
    public func runOnce(on connection: Connection, client: AgentClient, endpoints: [UUID]?) throws -> [InstallResult] {
        let previous = try client.heartbeat(hostname: configuration.hostname, version: configuration.version, on: connection)
        if previous == .offline { log("agent \(configuration.name) is back online") }
        var results: [InstallResult] = []
        while !isStopping {
            guard let job = try client.claim(limit: 1, leaseSeconds: configuration.leaseSeconds, endpoints: endpoints, on: connection).first
            else { break }
            log("job \(job.id) (\(job.name)), attempt \(job.attempt)/\(job.maxAttempts)")
            let result = try configuration.handler.run(job, client: client, on: connection)
            log("job \(job.id): \(result.outcome.rawValue) -> \(result.jobStatus)\(result.message.isEmpty ? "" : ": " + result.message)")
            results.append(result)
        }
        return results
    }

    /// Runs until `stop()`: heartbeats every `heartbeatInterval`, wakes on NOTIFY of the jobs channel
    /// or every `pollInterval`, and reconnects after a lost connection. With `once`, one round and return.
    @discardableResult
    public func run(once: Bool = false) throws -> [InstallResult] {
        var connection = try Connection(configuration: database)
        defer { connection.close() }
        let (client, endpoints) = try prepare(on: connection)
        let ids = configuration.endpoints.isEmpty ? nil : endpoints.map(\.id)
        log("agent \(configuration.name) serving \(endpoints.isEmpty ? "no endpoints yet" : endpoints.map(\.name).joined(separator: ", "))")
        if once { return try runOnce(on: connection, client: client, endpoints: ids) }
        var all: [InstallResult] = []
        var listening = false
        while !isStopping {
            do {
                if !connection.isOpen { try connection.reconnect() }
                if !listening {
                    try connection.listen(JobQueue.channel)
                    listening = true
                }
                all += try runOnce(on: connection, client: client, endpoints: ids)
                let wait = min(configuration.pollInterval, configuration.heartbeatInterval)
                var waited = 0.0
                while waited < wait && !isStopping {
                    let step = min(1, wait - waited)
                    if !(try connection.waitForNotifications(timeout: step)).isEmpty { break }
                    waited += step
                }
            } catch let error as PostgresError where error.isConnectionLost {
                log("database connection lost (\(error.message)); reconnecting")
                listening = false
                Thread.sleep(forTimeInterval: 1)
                connection.close()
                if let fresh = try? Connection(configuration: database) { connection = fresh }
            }
        }
        return all
    }
}
