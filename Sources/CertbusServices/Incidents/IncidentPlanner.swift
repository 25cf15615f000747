import CertbusCore
import Foundation
import Postgres

/// What `incident renew` asks for.
public struct IncidentRequest: Sendable, Equatable {
    /// Which certificates.
    public var selector: CertificateSelector
    /// When everything should be replaced.
    public var deadline: Date
    /// Revoke each old certificate once its replacement is issued, installed and validated.
    public var revokeOld: Bool
    /// The RFC 5280 reason of those revocations (required with revokeOld).
    public var revocationReason: String?
    /// Seconds over which renewal waves start (nil: the default of ``IncidentSchedule``).
    public var spread: TimeInterval?

    public init(selector: CertificateSelector, deadline: Date, revokeOld: Bool = false, revocationReason: String? = nil,
                spread: TimeInterval? = nil) {
        self.selector = selector
        self.deadline = deadline
        self.revokeOld = revokeOld
        self.revocationReason = revocationReason
        self.spread = spread
    }
}

/// An endpoint a certificate is deployed on.
public struct PlannedEndpoint: Sendable, Equatable {
    public var id: UUID
    public var name: String
    /// An AGENT endpoint with an agent (its agent installs the replacement).
    public var hasAgent: Bool
}

/// One certificate of a plan.
public struct PlannedItem: Sendable, Equatable {
    public var certificateId: UUID
    public var commonName: String?
    public var notAfter: Date
    public var plan: IncidentItemPlan
    /// For `.awaitRenewal`: the other certificate of the incident whose replacement it takes.
    public var awaits: UUID?
    /// For `.replaced`: the certificate that already replaced it.
    public var replacedBy: UUID?
    /// For `.notRenewable`: why.
    public var problem: String?
    public var endpoints: [PlannedEndpoint]
    /// Schedule (position, job priority, earliest start).
    public var position = 0
    public var priority = 0
    public var runAt = Date()

    /// One line for people: "rekey renewal", "agent install on web-1", "already replaced by ...".
    public var summary: String {
        let agents = endpoints.filter(\.hasAgent).map(\.name)
        let others = endpoints.filter { !$0.hasAgent }.map(\.name)
        var text: String
        switch plan {
        case .renew: text = "rekey renewal"
        case .agentInstall: text = "agents install new keys"
        case .awaitRenewal: text = "takes the replacement of \(awaits?.uuidString.lowercased() ?? "?")"
        case .replaced: text = "already replaced by \(replacedBy?.uuidString.lowercased() ?? "?")"
        case .notRenewable: return "cannot renew: \(problem ?? "")"
        }
        if !agents.isEmpty { text += "; agent install on \(agents.joined(separator: ", "))" }
        if !others.isEmpty { text += "; validate on \(others.joined(separator: ", "))" }
        return text
    }
}

/// What running `incident renew` would do (the dry run prints it; the real run carries it out).
public struct IncidentPlan: Sendable {
    public var request: IncidentRequest
    public var selection: ResolvedSelector
    /// The incident with the same selector and options, when there is one (the run reuses it).
    public var existing: IncidentRecord?
    /// New certificates, in schedule order.
    public var items: [PlannedItem]
    /// Failed certificates of the existing incident a run retries.
    public var retries: Int
    /// The schedule of the new certificates.
    public var schedule: IncidentSchedule
    /// What the operator should know first, e.g. that renewals would come from the CA being replaced.
    public var warnings: [String] = []
}

/// Computes incident plans from the database (read only).
public enum IncidentPlanner {
    /// The plan of `request` (selector resolved, reason checked, schedule made); changes nothing.
    /// Throws ``CertificateSelectionError`` (unknown names, empty selector), ``IncidentRequestError``
    /// (bad reason or options) or ``IncidentScheduleError`` (deadline, spread).
    public static func plan(_ request: IncidentRequest, now: Date = Date(), on c: Connection) throws -> IncidentPlan {
        try check(request)
        let selection = try CertificateSelection.resolve(request.selector, on: c)
        let existing = try Incidents.find(selection: selection, revokeOld: request.revokeOld,
                                          reason: request.revocationReason, on: c)
        let items = try candidates(selection, excludingIncident: existing?.id, now: now, on: c)
        let schedule = try IncidentSchedule.plan(
            items.map { IncidentSchedule.Candidate(id: $0.certificateId, notAfter: $0.notAfter, endpoints: $0.endpoints.count) },
            now: now, deadline: request.deadline, spread: request.spread)
        let byId = Dictionary(uniqueKeysWithValues: items.map { ($0.certificateId, $0) })
        let ordered = schedule.slots.map { slot -> PlannedItem in
            var item = byId[slot.id]!
            item.position = slot.position
            item.priority = slot.priority
            item.runAt = slot.runAt
            return item
        }
        var retries = 0
        if let existing {
            retries = try c.query(
                "SELECT count(*) AS n FROM certbus.incident_items WHERE incident_id = $1 AND state = 'FAILED' AND plan <> 'NOT_RENEWABLE'",
                [existing.id])[0].decode("n")
        }
        var plan = IncidentPlan(request: request, selection: selection, existing: existing, items: ordered, retries: retries,
                                schedule: schedule)
        plan.warnings = try sameCAWarnings(plan, on: c)
        return plan
    }

    /// With --issued-by: the profiles whose renewals would be signed by a CA of the selected subtree
    /// (a renewal uses the profile's current CA), so the replacements would depend on that CA again.
    static func sameCAWarnings(_ plan: IncidentPlan, on c: Connection) throws -> [String] {
        guard !plan.selection.issuingCAs.isEmpty else { return [] }
        let renewing = plan.items.filter { $0.plan == .renew || $0.plan == .agentInstall }.map { $0.certificateId.uuidString.lowercased() }
        guard !renewing.isEmpty else { return [] }
        return try c.query(
            """
            SELECT p.name AS profile, a.name AS ca, count(*) AS n
              FROM certbus.certificates c JOIN certbus.ra_profiles p ON p.id = c.profile_id
              JOIN certbus.certificate_authorities a ON a.id = p.ca_id
             WHERE c.id = ANY($1::uuid[]) AND p.ca_id = ANY($2::uuid[])
             GROUP BY p.name, a.name ORDER BY p.name
            """, [renewing, plan.selection.issuingCAs.map { $0.uuidString.lowercased() }]
        ).map { row in
            let n: Int = try row.decode("n")
            return "\(n) certificate(s) of profile \(try row.decode("profile", as: String.self)) would be renewed by CA "
                + "\(try row.decode("ca", as: String.self)), which is in the selected subtree: point the profile at another CA first"
        }
    }

    /// Refuses a request whose options do not fit together or whose reason is not one TLS server
    /// certificates may be revoked with (the strictest list, so it suits every certificate of the set).
    static func check(_ request: IncidentRequest) throws {
        if request.revokeOld {
            guard let reason = request.revocationReason else {
                throw IncidentRequestError("--revoke-old needs --reason (keyCompromise, superseded, affiliationChanged, cessationOfOperation, unspecified)")
            }
            do {
                _ = try RevocationPolicy.validate(reason, isTLSServer: true)
            } catch let error as RevocationReasonError {
                throw IncidentRequestError(error.description)
            }
        } else if request.revocationReason != nil {
            throw IncidentRequestError("--reason is the reason of --revoke-old; give both or neither")
        }
    }

    /// The valid certificates the selection adds to incident `incident` (all of them when nil), classified.
    static func candidates(_ selection: ResolvedSelector, excludingIncident incident: Int64?, now: Date, on c: Connection) throws -> [PlannedItem] {
        let predicate = selection.predicate(firstParameter: 3)
        let rows = try c.query(
            """
            WITH RECURSIVE selected AS MATERIALIZED (
              SELECT c.id, c.common_name, c.not_after, c.profile_id
                FROM certbus.certificates c
               WHERE c.status IN ('VALID', 'EXPIRING') AND c.not_after > $2 AND \(predicate.sql)
                 AND NOT EXISTS (SELECT 1 FROM certbus.incident_items i WHERE i.incident_id = $1
                                   AND (i.certificate_id = c.id OR i.successor_id = c.id OR i.renewing_certificate_id = c.id
                                        OR i.certificate_id = c.predecessor_id OR i.renewing_certificate_id = c.predecessor_id))
                 AND NOT EXISTS (SELECT 1 FROM certbus.incident_deployments d WHERE d.incident_id = $1 AND d.new_certificate_id = c.id)
                 AND NOT EXISTS (SELECT 1 FROM certbus.incident_deployments d
                                   JOIN certbus.agent_csr_submissions s ON s.install_job_id = d.job_id
                                   JOIN certbus.jobs ij ON ij.id = s.issue_job_id
                                  WHERE d.incident_id = $1 AND d.state = 'INSTALLING' AND ij.issued_certificate_id = c.id)
            ), line AS (
              SELECT s.id AS start_id, s.id AS current_id, 0 AS depth FROM selected s
              UNION ALL
              SELECT line.start_id, nxt.id, line.depth + 1 FROM line
               CROSS JOIN LATERAL (SELECT n.id FROM certbus.certificates n WHERE n.predecessor_id = line.current_id
                                    ORDER BY n.created_at, n.id LIMIT 1) nxt
               WHERE line.depth < 100
            ), ends AS (
              SELECT DISTINCT ON (start_id) start_id, current_id AS end_id FROM line ORDER BY start_id, depth DESC
            )
            SELECT s.id, s.common_name, s.not_after, s.profile_id IS NOT NULL AS has_profile, e.end_id,
                   last.status AS end_status, last.not_after AS end_not_after,
                   (EXISTS (SELECT 1 FROM selected o WHERE o.id = e.end_id)
                    OR EXISTS (SELECT 1 FROM certbus.incident_items i WHERE i.incident_id = $1 AND i.certificate_id = e.end_id)) AS end_selected,
                   (SELECT coalesce(jsonb_agg(jsonb_build_object('id', ep.id, 'name', ep.name,
                                              'agent', ep.kind = 'AGENT' AND ep.agent_id IS NOT NULL) ORDER BY ep.name), '[]'::jsonb)
                      FROM certbus.endpoints ep WHERE ep.expected_certificate_id = s.id)::text AS endpoints
              FROM selected s JOIN ends e ON e.start_id = s.id JOIN certbus.certificates last ON last.id = e.end_id
             ORDER BY s.id
            """, [incident ?? -1, now] + predicate.parameters)
        return try rows.map { row in
            let id: UUID = try row.decode("id")
            let end: UUID = try row.decode("end_id")
            let endpoints = try Self.endpoints(try row.decode("endpoints", as: String.self))
            var item = PlannedItem(certificateId: id, commonName: try row.decode("common_name"), notAfter: try row.decode("not_after"),
                                   plan: .renew, endpoints: endpoints)
            if end != id {
                let endStatus: String = try row.decode("end_status")
                let endNotAfter: Date = try row.decode("end_not_after")
                if try row.decode("end_selected", as: Bool.self) {
                    item.plan = .awaitRenewal
                    item.awaits = end
                } else if ["VALID", "EXPIRING"].contains(endStatus), endNotAfter > now {
                    item.plan = .replaced
                    item.replacedBy = end
                } else {
                    item.plan = .notRenewable
                    item.problem = "already renewed by \(end.uuidString.lowercased()), which is \(endStatus == "REVOKED" ? "revoked" : "expired"); request a new certificate under a profile"
                }
            } else if !(try row.decode("has_profile", as: Bool.self)) {
                item.plan = .notRenewable
                item.problem = "it has no RA profile (imported or discovered); request a new certificate under a profile"
            } else if !endpoints.isEmpty, endpoints.allSatisfy(\.hasAgent) {
                item.plan = .agentInstall
            }
            return item
        }
    }

    private static func endpoints(_ json: String) throws -> [PlannedEndpoint] {
        guard let array = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]] else { return [] }
        return array.compactMap { object in
            guard let idText = object["id"] as? String, let id = UUID(uuidString: idText), let name = object["name"] as? String else {
                return nil
            }
            return PlannedEndpoint(id: id, name: name, hasAgent: object["agent"] as? Bool ?? false)
        }
    }
}

/// An incident request whose options are wrong (a usage error).
public struct IncidentRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
