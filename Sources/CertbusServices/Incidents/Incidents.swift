import CertbusBus
import CertbusCore
import Foundation
import Postgres

/// What one run of `incident renew` did.
public struct IncidentRun: Sendable {
    /// The incident after the run.
    public var incident: IncidentRecord
    /// True when this run opened it; false when it reused the incident with the same selector and options.
    public var created: Bool
    /// Certificates this run added.
    public var added: Int
    /// Failed certificates this run retried.
    public var retried: Int
    /// Renewals queued and agent installs requested by this run.
    public var started: Int
    /// The plan of the added certificates.
    public var plan: IncidentPlan
}

/// Incidents: open or re-run one, read them.
public enum Incidents {
    /// The channel `certbus.advance_incidents` and runs NOTIFY with an incident id.
    public static let channel = "certbus_incidents"

    /// Opens the incident of `request`, or runs the existing one with the same selector and options
    /// again (adding certificates that match since, retrying failed ones, taking the new deadline),
    /// in one transaction: items, renewals (RENEW_CERT with rekey), agent installs, audit rows
    /// (INCIDENT_OPENED, INCIDENT_RENEWAL_QUEUED, INCIDENT_DEPLOYMENT_REQUESTED) and the
    /// INCIDENT_OPENED event. Throws ``IncidentNothingToDo`` (and changes nothing) when a first run
    /// selects no valid certificate; the errors of ``IncidentPlanner/plan(_:now:on:)`` otherwise.
    public static func open(_ request: IncidentRequest, actor: Actor, now: Date = Date(), on connection: Connection) throws -> IncidentRun {
        try connection.withTransaction { c in
            // Serialise runs of the same selection: the lock is taken before planning, so two runs at once
            // plan one after the other and the second adds nothing twice.
            try IncidentPlanner.check(request)
            let selection = try CertificateSelection.resolve(request.selector, on: c)
            let selectorJSON = try PostgresJSON(object: selection.canonical)
            _ = try c.query(
                "SELECT pg_advisory_xact_lock(hashtextextended($1::jsonb::text || coalesce($2, ''), 96))",
                [selectorJSON, request.revocationReason])
            let plan = try IncidentPlanner.plan(request, now: now, on: c)
            guard plan.existing != nil || !plan.items.isEmpty else {
                throw IncidentNothingToDo("no valid certificate matches \(selection.text); nothing to do")
            }
            var created = false
            let incidentId: Int64
            if let existing = plan.existing {
                incidentId = existing.id
                try c.execute(
                    "UPDATE certbus.incidents SET deadline = $2, runs = runs + 1 WHERE id = $1",
                    [incidentId, request.deadline])
            } else {
                created = true
                incidentId = try c.query(
                    """
                    INSERT INTO certbus.incidents (selector, selector_text, deadline, revoke_old, revocation_reason, opened_by_type, opened_by_id)
                    VALUES ($1::jsonb, $2, $3, $4, $5, $6, $7) RETURNING id
                    """,
                    [selectorJSON, selection.text, request.deadline, request.revokeOld, request.revocationReason,
                     actor.kind.rawValue, actor.id])[0].decode("id")
            }
            let retried = plan.existing == nil ? 0 : try retry(incidentId, priority: plan.schedule.priorityBase, on: c)
            try insert(plan.items, incident: incidentId, on: c)
            let started: Int = try c.query("SELECT certbus.incident_start($1, $2, $3) AS n", [incidentId, actor.kind.rawValue, actor.id])[0]
                .decode("n")
            let totals = try totals(of: incidentId, on: c)
            let runs: Int = try c.query("SELECT runs FROM certbus.incidents WHERE id = $1", [incidentId])[0].decode("runs")
            try AuditTrail.record(
                on: c, action: "INCIDENT_OPENED", entityType: "Incident", entityId: String(incidentId), actor: actor,
                details: ["selector": selection.text, "selector_ids": selection.canonical, "deadline": PostgresTimestamp.format(request.deadline),
                          "revoke_old": request.revokeOld, "reason": request.revocationReason ?? NSNull(), "created": created,
                          "run": runs, "added": plan.items.count, "retried": retried, "certificates": totals.certificates])
            if created || !plan.items.isEmpty || retried > 0 {
                try EventLog.emit(on: c, IncidentOpenedEventData(
                    incidentId: incidentId, selector: selection.text, deadline: request.deadline, revokeOld: request.revokeOld,
                    reason: request.revocationReason, certificates: totals.certificates, added: plan.items.count,
                    retried: retried, rerun: !created, openedBy: actor.description))
            }
            // ACTIVE when something is pending now; finished at once when every item failed (or nothing was left to do).
            _ = try c.query("SELECT certbus.settle_incidents(ARRAY[$1::bigint])", [incidentId])
            guard let incident = try find(id: incidentId, on: c) else { throw IncidentNotFound(incidentId) }
            try c.notify(channel, payload: String(incidentId))
            return IncidentRun(incident: incident, created: created, added: plan.items.count, retried: retried, started: started, plan: plan)
        }
    }

    /// Resets the failed items of an incident so they are tried again: failed renewals are renewed again
    /// (a new job), failed deployments are requested again, failed revocations are queued again. Items
    /// that cannot be renewed stay failed. Returns how many items were reset.
    static func retry(_ incident: Int64, priority: Int, on c: Connection) throws -> Int {
        try c.execute(
            """
            UPDATE certbus.incident_deployments d SET state = 'WAITING', error = NULL, job_id = NULL, updated_at = now()
              FROM certbus.incident_items i
             WHERE d.incident_id = $1 AND d.state = 'FAILED' AND i.incident_id = d.incident_id
               AND i.certificate_id = d.certificate_id AND i.state IN ('FAILED', 'DEPLOYING')
            """, [incident])
        return try c.execute(
            """
            UPDATE certbus.incident_items
               SET state = CASE WHEN failed_step = 'RENEWAL' THEN 'RENEWING' ELSE 'DEPLOYING' END,
                   renewal_job_id = CASE WHEN failed_step = 'RENEWAL' THEN NULL ELSE renewal_job_id END,
                   failed_step = NULL, error = NULL, finished_at = NULL, started_at = now(), state_since = now(),
                   priority = $2, run_at = now()
             WHERE incident_id = $1 AND state = 'FAILED' AND plan <> 'NOT_RENEWABLE'
            """, [incident, priority])
    }

    /// Inserts the planned items and their deployments.
    static func insert(_ items: [PlannedItem], incident: Int64, on c: Connection) throws {
        guard !items.isEmpty else { return }
        let next: Int = try c.query(
            "SELECT coalesce(max(position) + 1, 0) AS n FROM certbus.incident_items WHERE incident_id = $1", [incident])[0].decode("n")
        func text(_ id: UUID?) -> String? { id?.uuidString.lowercased() }
        try c.execute(
            """
            INSERT INTO certbus.incident_items
                   (incident_id, certificate_id, position, priority, run_at, plan, state, failed_step, renewing_certificate_id,
                    awaits_certificate_id, successor_id, error, finished_at)
            SELECT $1, t.certificate_id::uuid, $2 + t.position, t.priority, t.run_at, t.plan,
                   CASE t.plan WHEN 'RENEW' THEN 'RENEWING' WHEN 'AWAIT_RENEWAL' THEN 'RENEWING' WHEN 'NOT_RENEWABLE' THEN 'FAILED'
                               ELSE 'DEPLOYING' END,
                   CASE WHEN t.plan = 'NOT_RENEWABLE' THEN 'RENEWAL' END,
                   CASE WHEN t.plan = 'RENEW' THEN t.certificate_id::uuid END,
                   t.awaits::uuid, t.replaced_by::uuid, t.problem,
                   CASE WHEN t.plan = 'NOT_RENEWABLE' THEN now() END
              FROM unnest($3::text[], $4::int[], $5::int[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], $10::text[])
                   AS t(certificate_id, position, priority, run_at, plan, awaits, replaced_by, problem)
            """,
            [incident, next, items.map { text($0.certificateId) }, items.map(\.position), items.map(\.priority), items.map(\.runAt),
             items.map(\.plan.rawValue), items.map { text($0.awaits) }, items.map { text($0.replacedBy) }, items.map(\.problem)])
        let deployments = items.filter { $0.plan != .notRenewable }.flatMap { item in item.endpoints.map { (item.certificateId, $0) } }
        guard !deployments.isEmpty else { return }
        try c.execute(
            """
            INSERT INTO certbus.incident_deployments (incident_id, certificate_id, endpoint_id, method, state)
            SELECT $1, t.certificate_id::uuid, t.endpoint_id::uuid, CASE WHEN t.agent THEN 'AGENT_INSTALL' ELSE 'VALIDATE' END, 'WAITING'
              FROM unnest($2::text[], $3::text[], $4::bool[]) AS t(certificate_id, endpoint_id, agent)
            """,
            [incident, deployments.map { text($0.0) }, deployments.map { text($0.1.id) }, deployments.map(\.1.hasAgent)])
    }

    /// The incident with this selection and options, if one was opened.
    public static func find(selection: ResolvedSelector, revokeOld: Bool, reason: String?, on c: Connection) throws -> IncidentRecord? {
        try c.query(
            """
            SELECT \(IncidentRecord.columns) FROM \(IncidentRecord.from)
             WHERE n.selector = $1::jsonb AND n.revoke_old = $2 AND n.revocation_reason IS NOT DISTINCT FROM $3
            """, [try PostgresJSON(object: selection.canonical), revokeOld, reason]
        ).firstRow.map(IncidentRecord.init(row:))
    }

    /// Incident `id`, if it exists.
    public static func find(id: Int64, on c: Connection) throws -> IncidentRecord? {
        try c.query("SELECT \(IncidentRecord.columns) FROM \(IncidentRecord.from) WHERE n.id = $1", [id])
            .firstRow.map(IncidentRecord.init(row:))
    }

    /// Incidents, newest first; only those in `states` when given (ACTIVE, COMPLETED, FAILED).
    public static func list(states: [String] = [], limit: Int = 50, on c: Connection) throws -> [IncidentRecord] {
        try c.query(
            """
            SELECT \(IncidentRecord.columns) FROM \(IncidentRecord.from)
             WHERE cardinality($1::text[]) = 0 OR n.state = ANY($1::text[])
             ORDER BY n.id DESC LIMIT $2
            """, [states, max(1, limit)]
        ).map(IncidentRecord.init(row:))
    }

    /// The totals of incident `id` (cheap: one index range).
    public static func totals(of id: Int64, on c: Connection) throws -> IncidentTotals {
        try IncidentTotals(row: try c.query(IncidentTotals.sql, [id])[0])
    }

    /// Items of incident `id` in order, with their deployments; only those whose outcome
    /// ("done", "pending", "failed") is in `outcomes` when given.
    public static func items(of id: Int64, outcomes: [String] = [], limit: Int? = nil, on c: Connection) throws -> [IncidentItemRecord] {
        let states = outcomes.flatMap { outcome -> [String] in
            IncidentItemState.allCases.filter { $0.outcome == outcome }.map(\.rawValue)
        }
        var items = try c.query(
            """
            SELECT i.*, c.common_name, c.not_after FROM certbus.incident_items i JOIN certbus.certificates c ON c.id = i.certificate_id
             WHERE i.incident_id = $1 AND (cardinality($2::text[]) = 0 OR i.state = ANY($2::text[]))
             ORDER BY i.position LIMIT $3
            """, [id, states, limit ?? Int(Int32.max)]
        ).map(IncidentItemRecord.init(row:))
        guard !items.isEmpty else { return items }
        let deployments = try c.query(
            """
            SELECT d.certificate_id, d.endpoint_id, e.name, d.method, d.state, d.job_id, d.new_certificate_id, d.error
              FROM certbus.incident_deployments d JOIN certbus.endpoints e ON e.id = d.endpoint_id
             WHERE d.incident_id = $1 AND d.certificate_id = ANY($2::uuid[])
             ORDER BY e.name
            """, [id, items.map { $0.certificateId.uuidString.lowercased() }])
        var byCertificate: [UUID: [IncidentDeploymentRecord]] = [:]
        for row in deployments {
            byCertificate[try row.decode("certificate_id"), default: []].append(IncidentDeploymentRecord(
                endpointId: try row.decode("endpoint_id"), endpointName: try row.decode("name"), method: try row.decode("method"),
                state: try row.decode("state"), jobId: try row.decode("job_id"), newCertificateId: try row.decode("new_certificate_id"),
                error: try row.decode("error")))
        }
        for index in items.indices { items[index].deployments = byCertificate[items[index].certificateId] ?? [] }
        return items
    }
}

/// A first run of `incident renew` whose selector matches no valid certificate.
public struct IncidentNothingToDo: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An incident number that does not exist.
public struct IncidentNotFound: Error, Sendable, Equatable, CustomStringConvertible {
    public var id: Int64
    public init(_ id: Int64) { self.id = id }
    public var description: String { "no incident \(id) (see certbus incident list)" }
}
