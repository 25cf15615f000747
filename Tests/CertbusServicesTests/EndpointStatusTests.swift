import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The automation status catalogue and state machine in SQL match CertbusCore, and status changes
/// go only through certbus.change_endpoint_status.
@Suite struct EndpointStatusTests {
    @Test func sqlCatalogueMatchesSwift() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let rows = try c.query("SELECT code, title, types, is_error, description FROM certbus.automation_statuses ORDER BY code")
        #expect(rows.count == 42)
        for row in rows {
            let code: String = try row.decode("code")
            let status = try #require(AutomationStatus(rawValue: code), "unknown code \(code)")
            #expect(try row.decode("title", as: String.self) == status.title)
            #expect(Set(try row.decode("types", as: [String].self)) == Set(status.types.map(\.rawValue)))
            #expect(try row.decode("is_error", as: Bool.self) == status.isError)
            #expect(try row.decode("description", as: String.self) == status.summary)
        }
    }

    /// Every (from, to, kind) combination: the SQL function gives the same verdict and reason as Swift.
    @Test func sqlStateMachineMatchesSwiftForEveryMove() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let rows = try c.query(
            """
            SELECT f.code AS from_status, t.code AS to_status, k.kind,
                   certbus.automation_move_problem(f.code, t.code, k.kind) AS problem
              FROM certbus.automation_statuses f CROSS JOIN certbus.automation_statuses t
             CROSS JOIN unnest(ARRAY['AGENT', 'SENSOR', 'ADMIN_WEB_REQUEST']) AS k(kind)
            """)
        #expect(rows.count == 42 * 42 * 3)
        var legal = 0
        var mismatches: [String] = []
        for row in rows {
            let from = AutomationStatus(rawValue: try row.decode("from_status"))!
            let to = AutomationStatus(rawValue: try row.decode("to_status"))!
            let kind = EndpointAutomationKind(rawValue: try row.decode("kind"))!
            let sqlProblem: String? = try row.decode("problem")
            var swiftProblem: String?
            do {
                try AutomationStateMachine.validate(from: from, to: to, kind: kind)
            } catch {
                swiftProblem = error.reason
            }
            if sqlProblem == nil { legal += 1 }
            if sqlProblem != swiftProblem { mismatches.append("\(from) -> \(to) (\(kind)): sql=\(sqlProblem ?? "legal") swift=\(swiftProblem ?? "legal")") }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
        #expect(legal > 200 && legal < 5292)
    }

    @Test func unknownStatusesAndKindsAreNamed() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let problems = try c.query(
            """
            SELECT certbus.automation_move_problem('CONFIGURED', 'BOGUS', 'AGENT') AS a,
                   certbus.automation_move_problem('CONFIGURED', 'AUTOMATION_REQUESTED', 'TOASTER') AS b
            """)[0]
        #expect(try problems.decode("a", as: String.self) == "unknown automation status 'BOGUS'")
        #expect(try problems.decode("b", as: String.self).contains("unknown endpoint kind 'TOASTER'"))
    }

    @Test func legalMovesAreRecordedWithActorJobAndMessage() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let endpoint = try EndpointStore.add(
            EndpointDraft(name: "web-1", kind: .agent, host: "www.example.test", agentName: "agent-1"),
            actor: .user("alice"), on: c)
        #expect(endpoint.automationStatus == .configured)
        #expect(endpoint.agentName == "agent-1")
        let path: [AutomationStatus] = [
            .automationRequested, .readyToBeInstalled, .installingCertificate, .installationCompleted,
            .installValidationInProgress, .installationValidated, .automationSuccessful,
        ]
        try EndpointStore.changeStatus(endpoint.id, through: path, actor: .agent("a1"), message: "installing", jobId: 42, on: c)
        let history = try EndpointStore.history(of: endpoint.id, on: c)
        #expect(history.count == path.count + 1)
        #expect(history[0].from == nil && history[0].to == .configured)
        #expect(history[0].actor == .user("alice"))
        #expect(history[0].message == "endpoint created")
        #expect(Array(history.dropFirst().map(\.to)) == path)
        #expect(history[1].from == .configured)
        #expect(history.dropFirst().allSatisfy { $0.jobId == 42 && $0.actor == .agent("a1") && $0.message == "installing" })
        let now = try EndpointStore.find("web-1", on: c)
        #expect(now.automationStatus == .automationSuccessful)
        #expect(now.automationStatusSince >= endpoint.automationStatusSince)
    }

    @Test func illegalMoveIsRefusedAndChangesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let endpoint = try EndpointStore.add(
            EndpointDraft(name: "lb-1", kind: .sensor, host: "10.0.0.5"), actor: .user("alice"), on: c)
        // Skipping the workflow.
        let skip = try #require(throws: EndpointError.self) {
            try EndpointStore.changeStatus(endpoint.id, to: .certificateIssued, actor: .user("alice"), on: c)
        }
        #expect(skip.kind == .illegalTransition)
        #expect(skip.message.contains("from 'Configured' to 'Certificate issued'"))
        #expect(skip.message.contains("not a step of the automation workflow"))
        // A status of another kind.
        let agentOnly = try #require(throws: EndpointError.self) {
            try EndpointStore.changeStatus(endpoint.id, to: .scriptError, actor: .user("alice"), on: c)
        }
        #expect(agentOnly.message.contains("does not apply to sensor endpoints"))
        // Part of a multi-step move fails: the earlier steps roll back too.
        #expect(throws: EndpointError.self) {
            try EndpointStore.changeStatus(endpoint.id, through: [.automationRequested, .installationValidated], actor: .user("alice"), on: c)
        }
        let after = try EndpointStore.find(id: endpoint.id, on: c)
        #expect(after.automationStatus == .configured)
        #expect(after.automationStatusSince == endpoint.automationStatusSince)
        #expect(try EndpointStore.history(of: endpoint.id, on: c).count == 1)
        // Unknown endpoint.
        let missing = try #require(throws: EndpointError.self) {
            try EndpointStore.changeStatus(UUID(), to: .automationRequested, actor: .user("alice"), on: c)
        }
        #expect(missing.kind == .notFound)
    }

    @Test func directUpdateOfTheStatusIsRefused() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        let endpoint = try EndpointStore.add(
            EndpointDraft(name: "app", kind: .adminWebRequest, host: "app.example.test"), actor: .user("alice"), on: c)
        let error = try #require(throws: PostgresError.self) {
            try c.execute("UPDATE certbus.endpoints SET automation_status = 'AUTOMATION_REQUESTED' WHERE id = $1", [endpoint.id])
        }
        #expect(error.message.contains("only be changed with certbus.change_endpoint_status"))
        // Other columns stay editable.
        try c.execute("UPDATE certbus.endpoints SET description = 'front door' WHERE id = $1", [endpoint.id])
        #expect(try EndpointStore.find(id: endpoint.id, on: c).automationStatus == .configured)
        // Changing the kind may not strand the endpoint in a status of another kind.
        try EndpointStore.changeStatus(endpoint.id, through: [.automationRequested, .csrGenerating], actor: .user("a"), on: c)
        #expect(throws: PostgresError.self) {
            try c.execute("UPDATE certbus.endpoints SET kind = 'AGENT' WHERE id = $1", [endpoint.id])
        }
        // A psql INSERT may not start an endpoint mid-workflow.
        let insert = try #require(throws: PostgresError.self) {
            try c.execute(
                "INSERT INTO certbus.endpoints (name, kind, host, automation_status) VALUES ('x', 'SENSOR', 'x.test', 'INSTALLATION_VALIDATED')")
        }
        #expect(insert.constraint == "automation_status_transition")
    }

    @Test func successfulRevertsToConfiguredAfterADay() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        func successful(_ name: String, hoursAgo: Int) throws -> UUID {
            let e = try EndpointStore.add(EndpointDraft(name: name, kind: .adminWebRequest, host: "\(name).example.test"), actor: .user("t"), on: c)
            try EndpointStore.changeStatus(
                e.id, through: [.automationRequested, .issuingCertificate, .certificateIssued, .automationSuccessful],
                actor: .system("worker"), on: c)
            try c.withTransaction { tx in
                // The trigger's own escape hatch, as change_endpoint_status uses it: backdate the status.
                _ = try tx.query("SELECT set_config('certbus.endpoint_status_change', $1, true)", [e.id.uuidString.lowercased()])
                try tx.execute(
                    "UPDATE certbus.endpoints SET automation_status_since = now() - make_interval(hours => $2) WHERE id = $1",
                    [e.id, hoursAgo])
            }
            return e.id
        }
        let old = try successful("old", hoursAgo: 25)
        let recent = try successful("recent", hoursAgo: 23)
        let task = AutomationStatusRevertTask()
        let summary = try task.run(c)
        #expect(summary.contains("1"))
        #expect(try EndpointStore.find(id: old, on: c).automationStatus == .configured)
        #expect(try EndpointStore.find(id: recent, on: c).automationStatus == .automationSuccessful)
        let last = try #require(try EndpointStore.history(of: old, on: c).last)
        #expect(last.from == .automationSuccessful && last.to == .configured)
        #expect(last.actor == .system("scheduler"))
        #expect(try task.run(c).contains("0"))
    }
}
