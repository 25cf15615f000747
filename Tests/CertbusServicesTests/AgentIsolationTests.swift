import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// An agent reaches only its own agent row, endpoints and INSTALL_CERT jobs, and cannot pretend to
/// be another agent. Two real LOGIN roles in certbus_agent (A and B), each bound to its agent; B
/// holds a RUNNING install job; A then calls every `agent_*` function with B's ids, tries to take
/// B's identity, and shadows types with temporary tables. Refused means SQLSTATE 42501, or no row
/// (P0002 / an empty result) where the function answers "nothing of yours". B's state is unchanged
/// at the end. Complements AgentPrivilegeTests (A's own business, direct table reads).
@Suite struct AgentIsolationTests {
    /// What a refused call may look like.
    enum Refusal: Equatable {
        /// insufficient_privilege.
        case denied
        /// no_data_found: the function found nothing of the caller's.
        case nothingFound
        /// The call ran and returned no row.
        case empty
    }

    /// The ids the calls use: A's agent, B's agent, endpoint and running job (at its attempt).
    struct Ids {
        let agentA: UUID, agentB: UUID, endpointB: UUID, jobB: Int64, attemptB: Int, certificate: UUID
    }

    /// Every agent_* function, called by A on B's business: (what, SQL, parameters, allowed refusals).
    static func calls(_ ids: Ids) -> [(what: String, sql: String, parameters: [any PostgresEncodable], refusal: Set<Refusal>)] {
        let (a, b, e, j, n) = (ids.agentA, ids.agentB, ids.endpointB, ids.jobB, ids.attemptB)
        return [
            ("agent_lookup of B's name", "SELECT certbus.agent_lookup('agent-b')", [], [.denied]),
            ("agent_heartbeat as B", "SELECT certbus.agent_heartbeat($1, 'evil', 'x')", [b], [.denied]),
            ("agent_endpoints of B", "SELECT * FROM certbus.agent_endpoints($1)", [b], [.denied]),
            ("agent_change_endpoint_status of B's endpoint as A",
             "SELECT certbus.agent_change_endpoint_status($1, $2, 'ACTION_REQUIRED', 'x', NULL)", [a, e], [.denied]),
            ("agent_change_endpoint_status of B's endpoint as B",
             "SELECT certbus.agent_change_endpoint_status($1, $2, 'ACTION_REQUIRED', 'x', NULL)", [b, e], [.denied]),
            ("agent_claim_jobs as B", "SELECT * FROM certbus.agent_claim_jobs($1, 10, 60, NULL)", [b], [.denied]),
            ("agent_claim_jobs as A for B's endpoint",
             "SELECT * FROM certbus.agent_claim_jobs($1, 10, 60, ARRAY[$2]::uuid[])", [a, e], [.empty]),
            ("agent_extend_lease of B's job as A", "SELECT certbus.agent_extend_lease($1, $2, $3, 600)", [a, j, n], [.denied]),
            ("agent_extend_lease of B's job as B", "SELECT certbus.agent_extend_lease($1, $2, $3, 600)", [b, j, n], [.denied]),
            ("agent_install_details of B's job as A", "SELECT * FROM certbus.agent_install_details($1, $2, $3)", [a, j, n], [.denied]),
            ("agent_install_details of B's job as B", "SELECT * FROM certbus.agent_install_details($1, $2, $3)", [b, j, n], [.denied]),
            ("agent_submit_csr for B's job as A",
             "SELECT certbus.agent_submit_csr($1, $2, $3, '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----')",
             [a, j, n], [.denied]),
            ("agent_issuance of B's job as A", "SELECT * FROM certbus.agent_issuance($1, $2)", [a, j], [.denied, .nothingFound, .empty]),
            ("agent_issuance of B's job as B", "SELECT * FROM certbus.agent_issuance($1, $2)", [b, j], [.denied]),
            ("agent_installing on B's job as A", "SELECT certbus.agent_installing($1, $2, $3, $4)", [a, j, n, ids.certificate], [.denied]),
            ("agent_finish_install of B's job as A",
             "SELECT certbus.agent_finish_install($1, $2, $3, 'INSTALLED', 'x', $4, 30)", [a, j, n, ids.certificate], [.denied]),
            ("agent_finish_install of B's job as B",
             "SELECT certbus.agent_finish_install($1, $2, $3, 'AGENT_ERROR', 'x', NULL, 30)", [b, j, n], [.denied]),
        ]
    }

    /// Two agents with an endpoint each, B's install job claimed by B; runs `body` with A's session.
    func withTwoAgents(_ body: (_ a: Connection, _ admin: Connection, _ ids: Ids) throws -> Void) throws {
        let two = try TwoAgents()
        defer { withExtendedLifetime(two) {} }
        let (admin, jobB, endpointB) = (two.admin, two.jobB, two.endpointB)
        let b = try two.roleB.connect(two.db)
        defer { b.close() }
        let claimed = try #require(try AgentClient(agentId: two.agentB.id).claim(on: b).first)
        #expect(claimed.id == jobB)
        let a = try two.roleA.connect(two.db, preparesStatements: false)
        defer { a.close() }
        try body(a, admin, Ids(agentA: two.agentA.id, agentB: two.agentB.id, endpointB: endpointB.id, jobB: jobB,
                                attemptB: claimed.attempt, certificate: UUID()))
        // B's business is as B left it.
        #expect(try AgentTestSupport.jobStatus(jobB, on: admin).status == "RUNNING")
        #expect(try EndpointStore.find(id: endpointB.id, on: admin).automationStatus == .automationRequested)
        #expect(try AgentStore.find("agent-b", on: admin).status == .neverSeen)
        #expect(try AgentTestSupport.count(admin, "SELECT count(*)::int AS n FROM certbus.agent_csr_submissions") == 0)
        #expect(try AgentTestSupport.count(admin, "SELECT count(*)::int AS n FROM certbus.jobs WHERE kind <> 'INSTALL_CERT'") == 0)
    }

    static func outcome(of sql: String, _ parameters: [any PostgresEncodable], on c: Connection) -> Result<Int, PostgresError> {
        do {
            return .success(try c.query(sql, parameters).count)
        } catch let error as PostgresError {
            return .failure(error)
        } catch {
            return .failure(PostgresError(kind: .protocolViolation, message: "\(error)"))
        }
    }

    @Test func everyAgentFunctionRefusesAnotherAgentsBusiness() throws {
        try withTwoAgents { a, _, ids in
            let calls = Self.calls(ids)
            // Every function an agent may run has a row here.
            let covered = Set(calls.compactMap { $0.sql.firstMatch(of: /certbus\.(agent_[a-z_]+)/).map { String($0.1) } })
            #expect(covered == PrivilegeMatrix.agentFunctions)
            for call in calls {
                let refusal: Refusal?
                switch Self.outcome(of: call.sql, call.parameters, on: a) {
                case .success(let rows): refusal = rows == 0 ? .empty : nil
                case .failure(let error) where error.sqlState == "42501": refusal = .denied
                case .failure(let error) where error.sqlState == "P0002": refusal = .nothingFound
                case .failure(let error):
                    Issue.record("\(call.what): unexpected \(error)")
                    continue
                }
                #expect(refusal.map { call.refusal.contains($0) } == true, "\(call.what): \(refusal.map { "\($0)" } ?? "answered with rows")")
            }
        }
    }

    /// An agent's identity is the session's login role (session_user), which no SET can change:
    /// not SET ROLE, not SET SESSION AUTHORIZATION, not a custom setting such as certbus.actor.
    @Test func anAgentCannotTakeAnotherAgentsIdentity() throws {
        try withTwoAgents { a, admin, ids in
            let roleB = try admin.query("SELECT login_role FROM certbus.agents WHERE id = $1", [ids.agentB])[0].decode("login_role", as: String.self)
            let superuser = try admin.query("SELECT current_user AS u")[0].decode("u", as: String.self)
            for sql in ["SET ROLE \(try a.quoteIdentifier(roleB))", "SET SESSION AUTHORIZATION \(try a.quoteIdentifier(roleB))",
                        "SET ROLE certbus_service", "SET ROLE \(try a.quoteIdentifier(superuser))",
                        "SET SESSION AUTHORIZATION \(try a.quoteIdentifier(superuser))"] {
                let error = #expect(throws: PostgresError.self, "\(sql)") { try a.execute(sql) }
                #expect(error?.sqlState == "42501", "\(sql): \(String(describing: error))")
            }
            try a.execute("SELECT set_config('certbus.actor', $1, false)", ["AGENT:\(ids.agentB.uuidString.lowercased())"])
            try a.execute("SELECT set_config('application_name', 'agent-b', false)")
            try a.execute("SET ROLE certbus_agent")  // a group it is in: current_user changes, session_user does not
            for sql in ["SELECT certbus.agent_heartbeat($1, 'evil', 'x')", "SELECT * FROM certbus.agent_endpoints($1)"] {
                let error = #expect(throws: PostgresError.self) { try a.query(sql, [ids.agentB]) }
                #expect(error?.sqlState == "42501", "\(sql): \(String(describing: error))")
            }
            try a.execute("RESET ROLE")
        }
    }

    /// Temporary tables cannot shadow what the SECURITY DEFINER functions use: their search_path
    /// lists pg_temp last. (Before sql/060, a temporary table named "text" made agent_may_act fail
    /// with "operator does not exist: pg_catalog.text = text", inside a function running as its owner.)
    @Test func temporaryTablesDoNotShadowTheDefinerFunctions() throws {
        try withTwoAgents { a, _, ids in
            for table in ["text", "uuid", "agents", "endpoints", "jobs", "boolean", "name"] {
                try a.execute("CREATE TEMP TABLE \(try a.quoteIdentifier(table)) (id pg_catalog.uuid, login_role pg_catalog.text, agent_id pg_catalog.uuid)")
            }
            try a.execute("INSERT INTO pg_temp.agents VALUES ($1, session_user, $1)", [ids.agentB])
            try a.execute("SET search_path = pg_temp, certbus, public")
            #expect(try a.query("SELECT certbus.agent_lookup('agent-a') AS id")[0].decode("id", as: UUID.self) == ids.agentA)
            #expect(try a.query("SELECT count(*)::int AS n FROM certbus.agent_endpoints($1)", [ids.agentA])[0].decode("n", as: Int.self) == 1)
            let error = #expect(throws: PostgresError.self) { try a.query("SELECT * FROM certbus.agent_endpoints($1)", [ids.agentB]) }
            #expect(error?.sqlState == "42501", "\(String(describing: error))")
        }
    }

    /// The only job an agent can cause is the ISSUE_CERT of its own install job's CSR: it cannot
    /// enqueue any kind itself, in any way.
    @Test func anAgentCannotEnqueueJobs() throws {
        try withTwoAgents { a, admin, _ in
            for sql in [
                "SELECT certbus.enqueue_job('DISCOVERY', '{\"targets\": [\"10.0.0.0/24:22\"]}')",
                "SELECT certbus.enqueue_job_if_absent('NOOP')",
                "SELECT certbus.enqueue_deployment_validation(gen_random_uuid())",
                "INSERT INTO certbus.jobs (kind, name, max_attempts) VALUES ('NOOP', 'x', 1)",
                "SELECT certbus.request_install(gen_random_uuid(), NULL, 'web', NULL, NULL, 'AGENT', 'x')",
                "SELECT certbus.retry_job(1, 'AGENT', 'x')",
            ] {
                let error = #expect(throws: PostgresError.self, "\(sql)") { try a.query(sql) }
                #expect(error?.sqlState == "42501", "\(sql): \(String(describing: error))")
            }
            let jobs = try AgentTestSupport.count(admin, "SELECT count(*)::int AS n FROM certbus.jobs")
            #expect(jobs == 2)
        }
    }

    /// An agent's CSR may name only what its install job is for (sql/061): a CSR that also names
    /// another agent's endpoint, though the profile allows the name, is refused by the ISSUE_CERT
    /// job before any CA is asked; a CSR for the job's own name is issued (the positive control).
    @Test func anAgentsCSRMayNameOnlyItsInstallJobsNames() throws {
        let role = try AgentRole()
        defer { role.drop() }
        let fixture = try CertFixture()
        defer { withExtendedLifetime(fixture) {} }
        let c = fixture.connection
        let agent = try AgentStore.register(name: "agent-a", loginRole: role.name, actor: .user("admin"), on: c)
        _ = try AgentStore.register(name: "agent-b", actor: .user("admin"), on: c)
        func endpoint(_ name: String, serverName: String, agent: String) throws -> UUID {
            try EndpointStore.add(EndpointDraft(name: name, kind: .agent, host: "192.0.2.10", port: 443, serverName: serverName, agentName: agent),
                                  actor: .user("admin"), on: c).id
        }
        let own = try endpoint("web-a", serverName: "a.example.test", agent: "agent-a")
        let other = try endpoint("web-a2", serverName: "a2.example.test", agent: "agent-a")
        _ = try endpoint("web-b", serverName: "b.example.test", agent: "agent-b")
        let a = try role.connect(fixture.db)
        defer { a.close() }
        let client = AgentClient(agentId: agent.id)

        for (endpointId, names, issued) in [(own, ["a.example.test", "b.example.test"], false), (other, ["a2.example.test"], true)] {
            try AgentTestSupport.requestInstall(endpointId, profile: "web", on: c)
            let job = try #require(try client.claim(endpoints: [endpointId], on: a).first)
            let issueJob = try client.submitCSR(job, pem: try CertFixture.csr(names).0.pem, on: a)
            let outcome = try fixture.finish(fixture.issue, try fixture.claim(.issueCertificate))
            let state = try fixture.jobState(issueJob)
            if issued {
                #expect(state.status == "SUCCESS", "\(String(describing: state.error))")
                #expect(state.issued != nil)
            } else {
                guard case .failure(let failure) = outcome else {
                    Issue.record("a CSR naming b.example.test was issued for agent-a")
                    continue
                }
                #expect(failure.message.contains("b.example.test is not among the names of the agent's install job (allowed: a.example.test)"),
                        "\(failure.message)")
                #expect(state.status == "FAILED")
            }
        }
        #expect(try fixture.count("certificates") == 1)
        #expect(try fixture.count("certificates", where: "'b.example.test' = ANY (subject_alternative_names)") == 0)
    }
}
