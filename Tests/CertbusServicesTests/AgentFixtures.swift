import CertbusBus
import CertbusServices
import CertbusTesting
import Foundation
import Postgres

/// Login roles for agents: a `TestLoginRole` that is only a member of certbus_agent.
typealias AgentRole = TestLoginRole

extension TestLoginRole {
    /// A new LOGIN role that is only a member of certbus_agent.
    convenience init() throws {
        try self.init(prefix: "agent_role", memberOf: ["certbus_agent"])
    }
}

/// Two agents, A and B, in a fresh database, each bound to its own LOGIN role in certbus_agent,
/// with an AGENT endpoint (web-a, web-b) and a queued CSR-path install job each. `deinit` drops
/// the database, then the roles.
final class TwoAgents: @unchecked Sendable {
    let roleA: AgentRole
    let roleB: AgentRole
    let db: TestDatabase
    /// A superuser session, for setting up and checking.
    let admin: Connection
    let agentA: Agent
    let agentB: Agent
    let endpointA: Endpoint
    let endpointB: Endpoint
    let jobA: Int64
    let jobB: Int64

    init(function: String = #function) throws {
        roleA = try AgentRole()
        roleB = try AgentRole()
        db = try TestDatabase.create(function: function)
        admin = try db.connect()
        (agentA, endpointA) = try AgentTestSupport.agentWithEndpoint("agent-a", endpoint: "web-a", role: roleA, on: admin)
        (agentB, endpointB) = try AgentTestSupport.agentWithEndpoint("agent-b", endpoint: "web-b", role: roleB, on: admin)
        jobA = try AgentTestSupport.requestInstall(endpointA.id, profile: "web", on: admin)
        jobB = try AgentTestSupport.requestInstall(endpointB.id, profile: "web", on: admin)
    }

    deinit {
        admin.close()
        db.drop()
        roleA.drop()
        roleB.drop()
    }
}

/// Helpers shared by the agent tests.
enum AgentTestSupport {
    /// Registers agent `name` bound to `role` and an AGENT endpoint `endpoint` of it at `port`.
    static func agentWithEndpoint(
        _ name: String, endpoint: String, port: Int = 443, role: AgentRole? = nil, on c: Connection
    ) throws -> (agent: Agent, endpoint: Endpoint) {
        let agent = try AgentStore.register(name: name, loginRole: role?.name, actor: .user("admin"), on: c)
        let added = try EndpointStore.add(
            EndpointDraft(name: endpoint, kind: .agent, host: "127.0.0.1", port: port, serverName: "localhost", agentName: name),
            actor: .user("admin"), on: c)
        return (agent, added)
    }

    /// `certbus.request_install` for a profile (CSR path) or an issued certificate.
    @discardableResult
    static func requestInstall(_ endpoint: UUID, certificate: UUID? = nil, profile: String? = nil, names: [String]? = nil, on c: Connection) throws -> Int64 {
        try c.query(
            "SELECT certbus.request_install($1, $2, $3, NULL, $4::text[], 'USER', 'admin') AS id",
            [endpoint, certificate, profile, names])[0].decode("id")
    }

    static func jobStatus(_ id: Int64, on c: Connection) throws -> (status: String, attempt: Int, error: String?) {
        let row = try c.query("SELECT status, attempt, error FROM certbus.jobs WHERE id = $1", [id])[0]
        return (try row.decode("status"), try row.decode("attempt"), try row.decode("error"))
    }

    static func count(_ c: Connection, _ sql: String, _ parameters: [any PostgresEncodable] = []) throws -> Int {
        try c.query(sql, parameters)[0].decode("n")
    }
}

/// Stands in for `certbus worker` in tests of commands that wait for a job: takes the next QUEUED job
/// of the handler's kind, runs it, and records its end with the handler's effects in one transaction.
enum TestWorker {
    @discardableResult
    static func runNext(_ handler: some JobHandler, pool: ConnectionPool, waitUpTo timeout: Double = 20) throws -> Int64? {
        let deadline = Date().addingTimeInterval(timeout)
        var claimed: Row?
        while claimed == nil {
            claimed = try pool.withConnection { c in
                try c.query(
                    """
                    UPDATE certbus.jobs SET status = 'RUNNING', attempt = attempt + 1, started_at = now(), locked_by = 'test-worker',
                           lease_expires_at = now() + interval '5 minutes'
                     WHERE id = (SELECT id FROM certbus.jobs WHERE status = 'QUEUED' AND kind = $1 ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
                    RETURNING id, name, payload::text AS payload, attempt, max_attempts
                    """, [handler.kind.rawValue]
                ).firstRow
            }
            if claimed == nil {
                if Date() >= deadline { return nil }
                Thread.sleep(forTimeInterval: 0.1)
            }
        }
        let row = claimed!
        let job = Job(
            id: try row.decode("id"), kind: handler.kind, name: try row.decode("name"),
            payload: Data(try row.decode("payload", as: String.self).utf8), attempt: try row.decode("attempt"),
            maxAttempts: try row.decode("max_attempts"), triggeredBy: .user("tester"))
        do {
            let completion = try handler.run(job, context: JobContext(database: pool, workerId: "test-worker"))
            try pool.withTransaction { c in
                try c.execute(
                    """
                    UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now(), locked_by = NULL, lease_expires_at = NULL,
                           output = to_jsonb($2::text) WHERE id = $1
                    """, [job.id, completion.output ?? ""])
                try completion.commit?(c)
            }
        } catch let failure as JobFailure {
            try pool.withTransaction { c in
                try c.execute(
                    """
                    UPDATE certbus.jobs SET status = 'FAILED', completed_at = now(), locked_by = NULL, lease_expires_at = NULL,
                           error = $2 WHERE id = $1
                    """, [job.id, failure.message])
                try failure.commit?(c)
            }
        }
        return job.id
    }
}
