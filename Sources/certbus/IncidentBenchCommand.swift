import CertbusArguments
import CertbusBench
import Foundation

/// `certbus bench incident`: blast-radius queries over many certificates, and one incident renewing many.
enum IncidentBenchCommand {
    static let certificates = Option<Int>("certificates", default: 1_000_000, help: "Synthetic certificates for the blast-radius queries (0 skips them).")
    static let renewals = Option<Int>("renewals", default: 10_000, help: "Real certificates renewed in one incident (0 skips it).")
    static let workers = Option<Int>("workers", default: 2, help: "Workers running the incident's renewals.")
    static let concurrency = Option<Int>("concurrency", default: 8, help: "Jobs each worker runs at once.")
    static let revokeOld = Flag("revoke-old", help: "Also revoke every old certificate (each revocation publishes a new CRL).")
    static let plans = Flag("plans", help: "Also print the EXPLAIN ANALYZE plan of each blast-radius query.")

    static let command = Command(
        "incident", abstract: "Measure blast-radius queries over 1M certificates and one incident renewing 10,000; use a release build.",
        discussion: """
            Both parts run in scratch databases on the same server (needs CREATEDB), dropped after. Blast radius: \
            --certificates synthetic certificates (a CA tree with sub-intermediates, 100 profiles, 1,000 DNS zones, \
            one key shared by every 20,000th, an endpoint per 100), then each `cert list` question's first page \
            and count, timed by EXPLAIN ANALYZE on the server and from the client (median of 5), and the psql \
            functions. Incident: --renewals real certificates issued by a built-in CA, then `incident renew \
            --issued-by` over all of them with real workers and the incident-advance task, timed until COMPLETED.
            """,
        options: CommandContext.options + [certificates, renewals, workers, concurrency, revokeOld, plans]
    ) { invocation in
        let count = invocation[certificates]!
        let renewalCount = invocation[renewals]!
        guard count == 0 || count >= 20_000 else { throw UsageError("--certificates must be 0 or at least 20000") }
        guard renewalCount >= 0, invocation[workers]! > 0, invocation[concurrency]! > 0 else {
            throw UsageError("--renewals must be 0 or more, --workers and --concurrency positive")
        }
        guard count > 0 || renewalCount > 0 else { throw UsageError("nothing to measure: --certificates and --renewals are both 0") }
        let bench = try BenchInvocation(invocation)
        var blast: BlastRadiusBenchmark.Result?
        var incident: IncidentRenewalBenchmark.Result?
        if count > 0 {
            blast = try BlastRadiusBenchmark(certificates: count).run(connectionString: bench.url, progress: bench.progress)
        }
        if renewalCount > 0 {
            incident = try IncidentRenewalBenchmark(renewals: renewalCount, workers: invocation[workers]!, concurrency: invocation[concurrency]!,
                                                    revokeOld: invocation[revokeOld]).run(connectionString: bench.url, progress: bench.progress)
        }
        if bench.context.json {
            var object: [String: JSONValue] = [:]
            if let blast {
                object["blast_radius"] = .object([
                    "certificates": .int(blast.certificates), "load_seconds": .double(blast.loadSeconds),
                    "load_average": blast.loadAverage.map { .double($0) } ?? .null,
                    "queries": .array(blast.queries.map { q in
                        .object(["question": .string(q.question), "matches": .int(q.matches), "page_server_ms": .double(q.pageServerMs),
                                 "page_client_ms": .double(q.pageClientMs), "count_server_ms": .double(q.countServerMs),
                                 "count_client_ms": .double(q.countClientMs)])
                    }),
                ])
            }
            if let r = incident {
                object["incident"] = .object([
                    "renewals": .int(r.renewals), "workers": .int(r.workers), "concurrency": .int(r.concurrency), "revoke_old": .bool(r.revokeOld),
                    "open_seconds": .double(r.openSeconds), "renewed_seconds": .double(r.renewedSeconds),
                    "completed_seconds": .double(r.completedSeconds), "per_second": .double(r.perSecond), "audit_rows": .int(r.auditRows),
                    "events": .int(r.events), "load_average": r.loadAverage.map { .double($0) } ?? .null,
                ])
            }
            invocation.output.write(try JSONOutput.string(JSONValue.object(object)))
            return
        }
        if let blast {
            invocation.print("Blast radius over \(blast.certificates) certificates (loaded in \(Int(blast.loadSeconds)) s; load average \(String(format: "%.2f", blast.loadAverage ?? 0))):")
            var table = TableFormatter([.init("QUESTION"), .init("MATCHES", alignment: .right), .init("PAGE SERVER", alignment: .right),
                                        .init("PAGE CLIENT", alignment: .right), .init("COUNT SERVER", alignment: .right),
                                        .init("COUNT CLIENT", alignment: .right)])
            func ms(_ value: Double) -> String { String(format: "%.1f ms", value) }
            invocation.print(table.render(blast.queries.map {
                [$0.question, String($0.matches), ms($0.pageServerMs), ms($0.pageClientMs), ms($0.countServerMs), ms($0.countClientMs)]
            }), terminator: "")
            _ = table
            invocation.print("(page: the first 100 rows as cert list shows them; psql rows return every match)")
            if invocation[plans] {
                for query in blast.queries { invocation.print("\n\(query.question):\n\(query.plan)") }
            }
        }
        if let r = incident {
            invocation.print(String(
                format: "Incident: %d certificates renewed with new keys%@ by %d worker(s) × %d: incident renew %.2f s, all renewed after %.1f s, completed after %.1f s (%.0f certificates/s); %d audit rows, %d events; load average %.2f",
                r.renewals, r.revokeOld ? " and the old ones revoked" : "", r.workers, r.concurrency, r.openSeconds, r.renewedSeconds,
                r.completedSeconds, r.perSecond, r.auditRows, r.events, r.loadAverage ?? 0))
        }
    }
}
