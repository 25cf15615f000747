import CertbusBus
import CertbusCore
import CertbusServices
import Foundation
import PKI
import Postgres

/// `certbus bench incident`, second part: one incident renewing `renewals` real certificates (10,000 by
/// default) of a built-in CA with new keys, run by real workers (`Worker`, the RENEW_CERT and
/// REVOKE_CERT handlers) and the incident-advance task, timed from `incident renew` to the incident's
/// COMPLETED state. The certificates are issued first (batch worker, untimed) in a scratch database.
public struct IncidentRenewalBenchmark: Sendable {
    /// Certificates in the incident.
    public var renewals: Int
    /// Worker processes simulated (each a `Worker` with its own pool).
    public var workers: Int
    /// Jobs each worker runs at once.
    public var concurrency: Int
    /// Revoke every old certificate too (each revocation publishes a new CRL of the CA).
    public var revokeOld: Bool

    public init(renewals: Int = 10_000, workers: Int = 2, concurrency: Int = 8, revokeOld: Bool = false) {
        self.renewals = renewals
        self.workers = workers
        self.concurrency = concurrency
        self.revokeOld = revokeOld
    }

    /// The outcome.
    public struct Result: Sendable {
        public var renewals: Int
        public var workers: Int
        public var concurrency: Int
        public var revokeOld: Bool
        /// Seconds `incident renew` took (selection, plan, items, renewal jobs, audit).
        public var openSeconds: Double
        /// Seconds from `incident renew` until every successor was issued.
        public var renewedSeconds: Double
        /// Seconds from `incident renew` until the incident was COMPLETED (revocations included).
        public var completedSeconds: Double
        /// Audit rows and events the incident's run wrote (renewals, revocations, incident steps).
        public var auditRows: Int
        public var events: Int
        public var loadAverage: Double?

        /// Certificates replaced per second, end to end.
        public var perSecond: Double { completedSeconds > 0 ? Double(renewals) / completedSeconds : 0 }
    }

    public func run(connectionString: String, progress: (String) -> Void = { _ in }) throws -> Result {
        guard renewals > 0, workers > 0, concurrency > 0 else { throw BenchmarkError("renewals, workers and concurrency must be positive") }
        let scratch = try ScratchDatabase(near: connectionString, purpose: "incident")
        defer { scratch.drop() }
        let configuration = ConnectionConfiguration(scratch.connectionString, applicationName: "certbus-bench")
        let c = try scratch.migratedConnection(progress: progress)
        defer { c.close() }
        let registry = try IssueBenchmark.makeCA(on: c)
        let quiet = ServiceLog(minimumLevel: .warning) { _, _, _ in }

        progress("issuing \(renewals) certificates to replace (untimed)")
        let csrs = try IssueBenchmark.makeCSRs(renewals, round: 0)
        let jobs = try csrs.map { try NewJob(kind: .issueCertificate, payload: IssueCertificatePayload(profile: "bench", csr: $0), name: "bench",
                                             triggeredBy: .system("bench")) }
        for chunk in stride(from: 0, to: jobs.count, by: 1000) {
            _ = try c.withTransaction { try JobQueue.enqueue(on: $0, batch: Array(jobs[chunk..<min(chunk + 1000, jobs.count)])) }
        }
        var issuing = WorkerOptions()
        issuing.concurrency = 2
        issuing.runsMaintenance = false
        issuing.pollInterval = 0.05
        let issuer = try Worker(configuration: configuration, handlers: HandlerRegistry([IssueCertificateHandler(registry: registry)]),
                                options: issuing, log: quiet)
        try issuer.start()
        try waitUntil(timeout: 3600, progress: progress, "issuance") {
            try c.query("SELECT count(*) AS n FROM certbus.certificates").firstRow!.decode("n", as: Int.self) >= renewals
        }
        issuer.stop(grace: 5)
        try c.execute("VACUUM ANALYZE")

        var options = WorkerOptions()
        options.concurrency = concurrency
        options.kinds = [.renewCertificate, .revokeCertificate]
        options.runsMaintenance = false
        options.pollInterval = 0.2
        let handlers = HandlerRegistry([RenewCertificateHandler(registry: registry), RevokeCertificateHandler(registry: registry)])
        let running: [Worker] = try (0..<workers).map { n in
            var o = options
            o.name = "bench\(n)"
            return try Worker(configuration: configuration, handlers: handlers, options: o, log: quiet)
        }
        for worker in running { try worker.start() }
        defer { for worker in running { worker.stop(grace: 5) } }
        // The scheduler's incident-advance task, every 5 s as in `certbus serve`.
        let stop = BenchLocked(false)
        let failure = BenchLocked<Error?>(nil)
        let task = IncidentAdvanceTask()
        let thread = Thread {
            let advancer: Connection
            do { advancer = try Connection(configuration: configuration) } catch {
                failure.value = error
                return
            }
            defer { advancer.close() }
            while !stop.value {
                do { _ = try task.run(advancer) } catch { failure.value = error }
                var slept = 0.0
                while slept < task.interval, !stop.value {
                    Thread.sleep(forTimeInterval: 0.05)
                    slept += 0.05
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.5)

        let before = try c.query("SELECT (SELECT count(*) FROM certbus.audit_log) AS a, (SELECT count(*) FROM certbus.events) AS e")[0]
        progress("incident renew --issued-by bench-ca-root --deadline 1h --spread 0s\(revokeOld ? " --revoke-old --reason keyCompromise" : "") over \(renewals) certificates, \(workers) worker(s) × \(concurrency)")
        let start = DispatchTime.now()
        let run = try Incidents.open(
            IncidentRequest(selector: CertificateSelector(issuedBy: "bench-ca-root"), deadline: Date().addingTimeInterval(3600),
                            revokeOld: revokeOld, revocationReason: revokeOld ? "keyCompromise" : nil, spread: 0),
            actor: .system("bench"), on: c)
        let openSeconds = BenchClock.seconds(since: start)
        guard run.added == renewals else { throw BenchmarkError("the incident selected \(run.added) certificates, expected \(renewals)") }
        thread.start()
        defer { stop.value = true }
        var renewedSeconds: Double?
        try waitUntil(timeout: 4 * 3600, progress: progress, "the incident") {
            if let error = failure.value { throw error }
            let failed: Int = try c.query("SELECT count(*) AS n FROM certbus.jobs WHERE status = 'FAILED'")[0].decode("n")
            if failed > 0 {
                let error: String? = try c.query("SELECT error FROM certbus.jobs WHERE status = 'FAILED' LIMIT 1")[0].decode("error")
                throw BenchmarkError("\(failed) jobs failed, e.g.: \(error ?? "?")")
            }
            if renewedSeconds == nil {
                let renewed: Int = try c.query(
                    "SELECT count(*) AS n FROM certbus.certificates WHERE predecessor_id IS NOT NULL")[0].decode("n")
                if renewed >= renewals { renewedSeconds = BenchClock.seconds(since: start) }
            }
            return try Incidents.find(id: run.incident.id, on: c)?.state != "ACTIVE"
        }
        let completedSeconds = BenchClock.seconds(since: start)
        stop.value = true
        guard let finished = try Incidents.find(id: run.incident.id, on: c), finished.state == "COMPLETED" else {
            throw BenchmarkError("the incident did not complete: \(try Incidents.find(id: run.incident.id, on: c)?.totals.failed ?? -1) failed")
        }
        let after = try c.query("SELECT (SELECT count(*) FROM certbus.audit_log) AS a, (SELECT count(*) FROM certbus.events) AS e")[0]
        return Result(
            renewals: renewals, workers: workers, concurrency: concurrency, revokeOld: revokeOld, openSeconds: openSeconds,
            renewedSeconds: renewedSeconds ?? completedSeconds, completedSeconds: completedSeconds,
            auditRows: try after.decode("a", as: Int.self) - before.decode("a", as: Int.self),
            events: try after.decode("e", as: Int.self) - before.decode("e", as: Int.self), loadAverage: BenchClock.loadAverage())
    }

    /// Polls `done` every 0.2 s, reporting every 10 s, until it holds or `timeout` passes.
    func waitUntil(timeout: Double, progress: (String) -> Void, _ what: String, _ done: () throws -> Bool) throws {
        let start = Date()
        var reported = start
        while !(try done()) {
            guard Date().timeIntervalSince(start) < timeout else { throw BenchmarkError("\(what) did not finish within \(Int(timeout)) s") }
            if Date().timeIntervalSince(reported) >= 10 {
                progress("  waiting for \(what): \(Int(Date().timeIntervalSince(start))) s")
                reported = Date()
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
    }
}
