import CertbusBus
import CertbusCore
import CertbusServices
import Foundation
import PKI
import Postgres

/// `certbus bench issue`: ISSUE_CERT end to end — jobs enqueued, claimed by workers, checked
/// against the profile, signed by a built-in CA (ECDSA P-256), and committed with their request,
/// audit rows and event — in certificates per second, for several worker counts. Runs in a
/// scratch database created next to the configured one and dropped after.
public struct IssueBenchmark: Sendable {
    /// Certificates per round.
    public var certificates: Int
    /// Worker processes simulated per round (each a `Worker` with its own pool).
    public var workerCounts: [Int]
    /// Executor threads of each worker (`--concurrency` of `certbus worker`): jobs, or batches of
    /// jobs, run at once.
    public var concurrency: Int
    /// The most ISSUE_CERT jobs a worker issues together (`IssueCertificateHandler.maximumBatchSize`;
    /// 1 runs every job alone through the handler's `run`).
    public var batchSize: Int

    /// A benchmark of `certificates` per round for each of `workerCounts`.
    public init(certificates: Int = 5000, workerCounts: [Int] = [1, 4], concurrency: Int = 2, batchSize: Int = 100) {
        self.certificates = certificates
        self.workerCounts = workerCounts
        self.concurrency = concurrency
        self.batchSize = batchSize
    }

    /// One round's outcome.
    public struct Round: Sendable {
        /// Workers used.
        public var workers: Int
        /// Certificates issued.
        public var certificates: Int
        /// Seconds from the first enqueue to the last commit.
        public var seconds: Double
        /// Certificates per second.
        public var perSecond: Double { seconds > 0 ? Double(certificates) / seconds : 0 }
        /// Audit rows and events written for the round's certificates (checked: 3 and 1 per certificate).
        public var auditRows: Int
        /// Events written.
        public var events: Int
        /// The 1-minute load average at the end of the round.
        public var loadAverage: Double?
        /// CPU microseconds per certificate, of this process (workers, enqueuing) and every server
        /// session of the scratch database; nil when unreadable (a server on another machine).
        public var cpuMicrosecondsPerCertificate: Double?
    }

    /// Runs every round and returns them; `progress` receives one line per phase.
    public func run(connectionString: String, progress: (String) -> Void = { _ in }) throws -> [Round] {
        guard certificates > 0, concurrency > 0, batchSize > 0, !workerCounts.isEmpty, workerCounts.allSatisfy({ $0 > 0 }) else {
            throw BenchmarkError("certificates, concurrency, batch size and worker counts must be positive")
        }
        let scratch = try ScratchDatabase(near: connectionString, purpose: "issue")
        defer { scratch.drop() }
        let configuration = ConnectionConfiguration(scratch.connectionString, applicationName: "certbus-bench")
        let c = try scratch.migratedConnection(progress: progress)
        defer { c.close() }

        let registry = try Self.makeCA(on: c)

        var rounds: [Round] = []
        for (index, workers) in workerCounts.enumerated() {
            progress("round \(index + 1): generating \(certificates) ECDSA P-256 CSRs")
            let csrs = try Self.makeCSRs(certificates, round: index)
            progress("round \(index + 1): \(workers) worker(s) × \(concurrency) threads, batches of up to \(batchSize), issuing \(certificates) certificates")
            rounds.append(try round(workers: workers, csrs: csrs, registry: registry, configuration: configuration, on: c))
            let r = rounds.last!
            progress(String(format: "round %d: %d certificates in %.2f s = %.0f/s", index + 1, r.certificates, r.seconds, r.perSecond))
        }
        return rounds
    }

    /// A built-in CA `bench-ca` (root + intermediate, key sealed under a throwaway KEK) and a profile `bench`
    /// for `*.bench.test`; returns the connector registry that signs with it.
    static func makeCA(on c: Connection) throws -> CertificateAuthorityRegistry {
        let kek = KeyEncryptionKey(key: try SecretBox.Key.generate(), path: "(benchmark)")
        let registry = CertificateAuthorityRegistry.standard(
            environment: CAConnectorEnvironment(homeDirectory: NSTemporaryDirectory(), variables: [:], keyEncryptionKey: kek))
        _ = try BuiltInCAProvisioner.create(BuiltInCASpecification(name: "bench-ca"), keyEncryptionKey: kek,
                                            actor: .system("bench"), on: c)
        var draft = RAProfileDraft(name: "bench", ca: "bench-ca")
        draft.allowedDomains = ["*.bench.test"]
        _ = try RAProfileStore.create(draft, actor: .system("bench"), on: c)
        return registry
    }

    static func makeCSRs(_ count: Int, round: Int) throws -> [String] {
        let results = UnsafeMutableBufferPointer<String?>.allocate(capacity: count)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        let failure = BenchLocked<Error?>(nil)
        nonisolated(unsafe) let buffer = results
        DispatchQueue.concurrentPerform(iterations: count) { i in
            do {
                let key = try PrivateKey.generate(.ecdsaP256)
                let name = "host-\(round)-\(i).bench.test"
                buffer[i] = try CertificateSigningRequest.create(
                    key: key, subject: DistinguishedName(commonName: name), subjectAlternativeNames: [.dnsName(name)]).pem
            } catch {
                failure.value = error
            }
        }
        if let error = failure.value { throw error }
        return results.map { $0! }
    }

    func round(workers count: Int, csrs: [String], registry: CertificateAuthorityRegistry,
               configuration: ConnectionConfiguration, on c: Connection) throws -> Round {
        let before = try c.query("SELECT (SELECT count(*) FROM certbus.certificates) AS n, (SELECT count(*) FROM certbus.audit_log) AS a, (SELECT count(*) FROM certbus.events) AS e").firstRow!
        let startCount: Int = try before.decode("n")
        let startAudit: Int = try before.decode("a")
        let startEvents: Int = try before.decode("e")
        var options = WorkerOptions()
        options.concurrency = concurrency
        options.kinds = [.issueCertificate]
        options.runsMaintenance = false
        options.pollInterval = 0.2
        let handlers = HandlerRegistry([IssueCertificateHandler(registry: registry, maximumBatchSize: batchSize)])
        let quiet = ServiceLog(minimumLevel: .warning) { _, _, _ in }
        let workers: [Worker] = try (0..<count).map { n in
            var o = options
            o.name = "bench\(n)"
            return try Worker(configuration: configuration, handlers: handlers, options: o, log: quiet)
        }
        for worker in workers { try worker.start() }
        defer { for worker in workers { worker.stop(grace: 5) } }
        // Let the workers connect and go idle before the clock starts.
        Thread.sleep(forTimeInterval: 0.5)
        let cpu = try SessionCPU.start(c)

        // The clock: the database's, from just before the first enqueue to the last job's completion.
        let start: Date = try c.query("SELECT clock_timestamp() AS t").firstRow!.decode("t")
        var jobs: [NewJob] = []
        jobs.reserveCapacity(csrs.count)
        for csr in csrs {
            jobs.append(try NewJob(kind: .issueCertificate, payload: IssueCertificatePayload(profile: "bench", csr: csr),
                                   name: "bench", triggeredBy: .system("bench")))
        }
        for chunk in stride(from: 0, to: jobs.count, by: 1000) {
            _ = try c.withTransaction { try JobQueue.enqueue(on: $0, batch: Array(jobs[chunk..<min(chunk + 1000, jobs.count)])) }
        }
        // Polled cheaply (two index probes every 50 ms): counting the growing tables at every poll
        // cost the run a tenth of its CPU.
        while try c.query(
            "SELECT EXISTS (SELECT 1 FROM certbus.jobs WHERE status = 'QUEUED') OR EXISTS (SELECT 1 FROM certbus.jobs WHERE status = 'RUNNING') AS busy"
        ).firstRow!.decode("busy", as: Bool.self) {
            Thread.sleep(forTimeInterval: 0.05)
        }
        let failed: Int = try c.query("SELECT count(*) AS n FROM certbus.jobs WHERE status = 'FAILED'").firstRow!.decode("n")
        if failed > 0 {
            let error: String? = try c.query("SELECT error FROM certbus.jobs WHERE status = 'FAILED' LIMIT 1").firstRow!.decode("error")
            throw BenchmarkError("\(failed) benchmark jobs failed, e.g.: \(error ?? "?")")
        }
        let issued: Int = try c.query("SELECT count(*) AS n FROM certbus.certificates").firstRow!.decode("n")
        guard issued == startCount + csrs.count else {
            throw BenchmarkError("expected \(csrs.count) new certificates, found \(issued - startCount)")
        }
        let end: Date = try c.query("SELECT max(completed_at) AS t FROM certbus.jobs WHERE kind = 'ISSUE_CERT'").firstRow!.decode("t")
        let seconds = end.timeIntervalSince(start)
        let cpuSeconds = try cpu.seconds(c)  // before the workers stop: their sessions end with them
        let after = try c.query("SELECT (SELECT count(*) FROM certbus.audit_log) AS a, (SELECT count(*) FROM certbus.events) AS e").firstRow!
        return Round(workers: count, certificates: csrs.count, seconds: seconds,
                     auditRows: try after.decode("a", as: Int.self) - startAudit, events: try after.decode("e", as: Int.self) - startEvents,
                     loadAverage: BenchClock.loadAverage(), cpuMicrosecondsPerCertificate: cpuSeconds.map { $0 / Double(csrs.count) * 1e6 })
    }
}
