import CertbusArguments
import CertbusCore
import CertbusServices
import Foundation

/// How incidents, their plans and their progress are printed (text and JSON).
enum IncidentOutput {
    static func id(_ value: UUID?) -> String { value?.uuidString.lowercased() ?? "" }

    /// "in 47 h 12 min" / "passed 2 h 0 min ago".
    static func until(_ date: Date, now: Date = Date()) -> String {
        let seconds = date.timeIntervalSince(now)
        return seconds >= 0 ? "in \(ProgressLine.duration(seconds))" : "passed \(ProgressLine.duration(-seconds)) ago"
    }

    static func totalsText(_ t: IncidentTotals) -> String {
        var text = "\(ProgressLine.grouped(t.certificates)) certificates: \(ProgressLine.grouped(t.done)) done, \(ProgressLine.grouped(t.pending)) pending"
        if t.pending > 0 {
            text += " (renewing \(ProgressLine.grouped(t.renewing)), deploying \(ProgressLine.grouped(t.deploying)), revoking \(ProgressLine.grouped(t.revoking)))"
        }
        return text + ", \(ProgressLine.grouped(t.failed)) failed"
    }

    static func options(revokeOld: Bool, reason: String?) -> String {
        revokeOld ? "revoke old certificates (\(reason ?? "")) once their replacement is installed and validated" : "old certificates are not revoked"
    }

    // MARK: renew

    static func runSummary(_ run: IncidentRun) -> String {
        let n = run.incident
        var lines: [String] = []
        if run.created {
            lines.append("incident \(n.id) opened: \(n.selectorText)")
        } else if run.added == 0 && run.retried == 0 {
            lines.append("incident \(n.id) (\(n.state)) is up to date: no new certificate matches and none failed to retry")
        } else {
            lines.append("incident \(n.id) run again (run \(n.runs)): added \(run.added), retried \(run.retried)")
        }
        lines.append("  " + totalsText(n.totals))
        if run.added > 0 {
            let plans = Dictionary(grouping: run.plan.items, by: \.plan).mapValues(\.count)
            var parts: [String] = []
            if let c = plans[.renew] { parts.append("\(c) rekey renewals") }
            if let c = plans[.agentInstall] { parts.append("\(c) agent reinstalls") }
            if let c = plans[.awaitRenewal] { parts.append("\(c) take another's replacement") }
            if let c = plans[.replaced] { parts.append("\(c) already replaced") }
            if let c = plans[.notRenewable] { parts.append("\(c) cannot be renewed") }
            lines.append("  added: " + parts.joined(separator: ", "))
            lines.append("  " + scheduleText(run.plan.schedule))
        }
        lines.append("  deadline \(CertCommandSupport.time(n.deadline)) UTC (\(until(n.deadline))); \(options(revokeOld: n.revokeOld, reason: n.revocationReason))")
        lines += run.plan.warnings.map { "warning: " + $0 }
        if n.state == "ACTIVE" { lines.append("follow it: certbus incident status \(n.id) --watch") }
        if n.totals.failed > 0 { lines.append("failed: certbus incident status \(n.id) --state failed") }
        return lines.joined(separator: "\n")
    }

    static func scheduleText(_ s: IncidentSchedule) -> String {
        let priorities = s.slots.map(\.priority)
        let range = priorities.isEmpty ? "-" : "\(priorities.min()!)-\(priorities.max()!)"
        let waves = s.waves == 1 ? "1 wave, starting now" : "\(s.waves) waves over \(ProgressLine.duration(s.spread)), the last at \(CertCommandSupport.time(s.lastStart)) UTC"
        return "schedule: \(waves); job priority \(range) (routine work: 100); \(ProgressLine.duration(max(0, s.margin))) left after the last start"
    }

    static func json(_ run: IncidentRun) -> JSONValue {
        guard case .object(var fields) = json(run.incident) else { return .null }
        fields["created"] = .bool(run.created)
        fields["added"] = .int(run.added)
        fields["retried"] = .int(run.retried)
        fields["started"] = .int(run.started)
        fields["warnings"] = .array(run.plan.warnings.map { .string($0) })
        return .object(fields)
    }

    static func dryRun(_ plan: IncidentPlan, context: CommandContext, all: Bool) throws {
        let shown = all ? plan.items : Array(plan.items.prefix(100))
        if context.json {
            let object: JSONValue = .object([
                "dry_run": .bool(true), "incident_id": plan.existing.map { .int(Int($0.id)) } ?? .null,
                "selector": .string(plan.selection.text), "deadline": CertCommandSupport.json(plan.request.deadline),
                "revoke_old": .bool(plan.request.revokeOld), "reason": CertCommandSupport.json(plan.request.revocationReason),
                "retries": .int(plan.retries), "new_certificates": .int(plan.items.count),
                "warnings": .array(plan.warnings.map { .string($0) }),
                "schedule": .object([
                    "waves": .int(plan.schedule.waves), "spread_seconds": .double(plan.schedule.spread),
                    "last_start": CertCommandSupport.json(plan.schedule.lastStart), "margin_seconds": .double(plan.schedule.margin),
                    "priority_base": .int(plan.schedule.priorityBase),
                ]),
                "certificates": .array(shown.map { item in
                    .object([
                        "certificate_id": .string(id(item.certificateId)), "common_name": CertCommandSupport.json(item.commonName),
                        "not_after": CertCommandSupport.json(item.notAfter), "plan": .string(item.plan.rawValue),
                        "position": .int(item.position), "priority": .int(item.priority), "run_at": CertCommandSupport.json(item.runAt),
                        "endpoints": .array(item.endpoints.map { .string($0.name) }), "summary": .string(item.summary),
                    ])
                }),
            ])
            context.invocation.output.write(try JSONOutput.string(object))
            return
        }
        var lines = ["dry run: nothing was changed"]
        if let existing = plan.existing {
            lines.append("would run incident \(existing.id) (\(existing.state)) again: add \(plan.items.count) certificates, retry \(plan.retries) failed")
            lines.append("  now " + totalsText(existing.totals))
        } else {
            lines.append("would open an incident for \(plan.selection.text): \(plan.items.count) certificates")
        }
        lines.append("  deadline \(CertCommandSupport.time(plan.request.deadline)) UTC (\(until(plan.request.deadline))); \(options(revokeOld: plan.request.revokeOld, reason: plan.request.revocationReason))")
        if !plan.items.isEmpty { lines.append("  " + scheduleText(plan.schedule)) }
        lines += plan.warnings.map { "warning: " + $0 }
        context.invocation.print(lines.joined(separator: "\n"))
        guard !shown.isEmpty else { return }
        var table = TableFormatter([.init("#", alignment: .right), .init("CERTIFICATE"), .init("COMMON NAME", maxWidth: 40),
                                    .init("NOT AFTER"), .init("PRIORITY", alignment: .right), .init("START"), .init("PLAN", maxWidth: 70)])
        context.invocation.print(table.render(shown.map {
            [String($0.position + 1), id($0.certificateId), $0.commonName ?? "", CertCommandSupport.time($0.notAfter),
             String($0.priority), CertCommandSupport.time($0.runAt), $0.summary]
        }), terminator: "")
        _ = table
        if shown.count < plan.items.count {
            context.invocation.print("showing \(shown.count) of \(ProgressLine.grouped(plan.items.count)) (--all shows every one)")
        }
    }

    // MARK: status

    static func itemDetail(_ item: IncidentItemRecord) -> String {
        var parts: [String] = []
        if let error = item.error { parts.append(error) }
        if item.state == .renewing, let job = item.renewalJobId { parts.append("renewal job \(job)") }
        if item.state == .revoking, let job = item.revokeJobId { parts.append("revocation job \(job)") }
        parts += item.deployments.map { d in
            "\(d.endpointName): \(d.state.lowercased())" + (d.state == "FAILED" || d.state == "RELEASED" ? (d.error.map { " (\($0))" } ?? "") : "")
        }
        return parts.joined(separator: "; ")
    }

    static func status(_ n: IncidentRecord, items: [IncidentItemRecord], outcomes: [String]) -> String {
        var text = "incident \(n.id)  \(n.state)  \(n.selectorText)\n"
        text += "deadline \(CertCommandSupport.time(n.deadline)) UTC (\(until(n.deadline))); \(options(revokeOld: n.revokeOld, reason: n.revocationReason))\n"
        text += "opened \(CertCommandSupport.time(n.createdAt)) UTC by \(n.openedBy); runs \(n.runs)"
        if let finished = n.finishedAt { text += "; finished \(CertCommandSupport.time(finished)) UTC" }
        text += "\n" + totalsText(n.totals) + "\n"
        guard !items.isEmpty else { return text + (outcomes.isEmpty ? "" : "no \(outcomes.joined(separator: " or ")) certificates\n") }
        var table = TableFormatter([.init("CERTIFICATE"), .init("COMMON NAME", maxWidth: 36), .init("OUTCOME"), .init("STEP"),
                                    .init("SUCCESSOR"), .init("DETAIL", maxWidth: 90)])
        text += "\n" + table.render(items.map {
            [id($0.certificateId), $0.commonName ?? "", $0.state.outcome, $0.state == .failed ? ($0.failedStep ?? "") : $0.state.rawValue,
             id($0.successorId), itemDetail($0)]
        })
        _ = table
        let matching = outcomes.isEmpty ? n.totals.certificates
            : (outcomes.contains("done") ? n.totals.done : 0) + (outcomes.contains("pending") ? n.totals.pending : 0)
                + (outcomes.contains("failed") ? n.totals.failed : 0)
        if items.count < matching { text += "showing \(items.count) of \(ProgressLine.grouped(matching)) (--all shows every one)\n" }
        return text
    }

    static func json(_ n: IncidentRecord) -> JSONValue {
        .object([
            "id": .int(Int(n.id)), "state": .string(n.state), "selector": .string(n.selectorText),
            "deadline": CertCommandSupport.json(n.deadline), "revoke_old": .bool(n.revokeOld),
            "reason": CertCommandSupport.json(n.revocationReason), "runs": .int(n.runs), "opened_by": .string(n.openedBy.description),
            "created_at": CertCommandSupport.json(n.createdAt), "finished_at": CertCommandSupport.json(n.finishedAt),
            "totals": .object([
                "certificates": .int(n.totals.certificates), "done": .int(n.totals.done), "pending": .int(n.totals.pending),
                "failed": .int(n.totals.failed), "renewing": .int(n.totals.renewing), "deploying": .int(n.totals.deploying),
                "revoking": .int(n.totals.revoking),
            ]),
        ])
    }

    static func json(_ n: IncidentRecord, items: [IncidentItemRecord]) -> JSONValue {
        guard case .object(var fields) = json(n) else { return .null }
        fields["certificates"] = .array(items.map { item in
            .object([
                "certificate_id": .string(id(item.certificateId)), "common_name": CertCommandSupport.json(item.commonName),
                "not_after": CertCommandSupport.json(item.notAfter), "outcome": .string(item.state.outcome),
                "state": .string(item.state.rawValue), "plan": .string(item.plan.rawValue),
                "failed_step": CertCommandSupport.json(item.failedStep), "error": CertCommandSupport.json(item.error),
                "successor_id": CertCommandSupport.json(item.successorId),
                "renewal_job_id": item.renewalJobId.map { .int(Int($0)) } ?? .null,
                "revoke_job_id": item.revokeJobId.map { .int(Int($0)) } ?? .null,
                "priority": .int(item.priority), "run_at": CertCommandSupport.json(item.runAt),
                "deployments": .array(item.deployments.map { d in
                    .object([
                        "endpoint": .string(d.endpointName), "endpoint_id": .string(id(d.endpointId)), "method": .string(d.method),
                        "state": .string(d.state), "job_id": d.jobId.map { .int(Int($0)) } ?? .null,
                        "new_certificate_id": CertCommandSupport.json(d.newCertificateId), "error": CertCommandSupport.json(d.error),
                    ])
                }),
            ])
        })
        return .object(fields)
    }

    /// "incident 3: 4,200 / 10,000 finished (42 %) · 12 failed · 5,788 pending · 120/s".
    static func progressLine(_ n: IncidentRecord, finishedSinceStart: Int, elapsed: TimeInterval) -> String {
        let t = n.totals
        let finished = t.done + t.failed
        let percent = t.certificates == 0 ? 100 : finished * 100 / t.certificates
        var text = "incident \(n.id): \(ProgressLine.grouped(finished)) / \(ProgressLine.grouped(t.certificates)) finished (\(percent) %)"
            + " · \(ProgressLine.grouped(t.failed)) failed · \(ProgressLine.grouped(t.pending)) pending"
            + " (renewing \(ProgressLine.grouped(t.renewing)), deploying \(ProgressLine.grouped(t.deploying)), revoking \(ProgressLine.grouped(t.revoking)))"
        if elapsed > 1, finishedSinceStart > 0 {
            let rate = Double(finishedSinceStart) / elapsed
            text += " · \(String(format: rate < 10 ? "%.1f" : "%.0f", rate))/s"
            if t.pending > 0 { text += " · about \(ProgressLine.duration(Double(t.pending) / rate)) left" }
        }
        return text
    }
}
