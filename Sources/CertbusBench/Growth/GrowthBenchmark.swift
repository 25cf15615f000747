import CertbusServices
import Foundation
import Postgres

/// `certbus bench growth`: certbus with big tables. Four figures, each with the plans behind it:
/// - the drain rate of a jobs table that has processed `churnJobs` jobs (workers plus the
///   retention task), against the same table fresh (the churn phase of `bench queue`, in its own
///   scratch database), with the share of heap-only updates and the claim/completion plans;
/// - the audit sealer and verifier over `auditRows` rows;
/// - the weekly (and daily) report over `jobs` finished jobs, in the same database as the audit rows;
/// - the expiry scan over `certificates` certificates (added after the report).
/// A size of 0 skips its phase.
public struct GrowthBenchmark: Sendable {
    /// Jobs run and deleted before the drain is measured again.
    public var churnJobs = 10_000_000
    /// NOOP jobs per drain.
    public var drainJobs = 60_000
    /// Worker processes of the churn and its drains.
    public var workers = 2
    /// `--concurrency` of each worker process.
    public var concurrency = 64
    /// Audit rows inserted, then sealed and verified.
    public var auditRows = 10_000_000
    /// Certificates for the expiry scan.
    public var certificates = 1_000_000
    /// Finished jobs (with attempts) under the weekly report.
    public var jobs = 1_000_000
    /// The `certbus` executable to start workers from.
    public var executable: String
    let log: @Sendable (String) -> Void

    /// A benchmark starting its workers from `executable` and reporting phases to `log`.
    public init(executable: String, log: @escaping @Sendable (String) -> Void) {
        self.executable = executable
        self.log = log
    }

    /// The audit figures.
    public struct AuditFigures: Sendable {
        /// Rows inserted (100,000 per INSERT ... SELECT) and the seconds that took (context only).
        public var rows = 0
        public var insertSeconds = 0.0
        /// Rows `AuditSealer` sealed, wall seconds, and CPU seconds of this process and its sessions.
        public var sealedRows = 0
        public var sealSeconds = 0.0
        public var sealCPUSeconds: Double?
        /// Rows `AuditVerifier` verified, wall seconds, and CPU seconds.
        public var verifiedRows = 0
        public var verifySeconds = 0.0
        public var verifyCPUSeconds: Double?
        /// EXPLAIN (ANALYZE, BUFFERS) of the sealer's work list and of one verifier step, over the full table.
        public var workListPlan = ""
        public var walkPlan = ""
        /// Size of the audit partitions with their indexes, bytes.
        public var tableBytes = 0
    }

    /// The report figures.
    public struct ReportFigures: Sendable {
        /// What the report sample held, and the seconds to insert it (not part of the report's cost).
        public var sample: ReportSampleData.Summary?
        public var insertSeconds = 0.0
        /// The weekly report: first load after ANALYZE, best of three, and each section's best of three.
        public var weeklyFirstSeconds = 0.0
        public var weeklyBestSeconds = 0.0
        public var weeklySectionSeconds: [String: Double] = [:]
        /// The daily report, best of three.
        public var dailyBestSeconds = 0.0
        /// Every statement the weekly report ran, with its plan (auto_explain).
        public var plans: [String] = []
    }

    /// Everything one run measured.
    public struct Results: Sendable {
        /// The churn phase of `bench queue` (nil when skipped).
        public var churn: QueueBenchmark.Results?
        /// The other phases (nil when skipped).
        public var audit: AuditFigures?
        public var expiry: ExpiryFigures?
        public var report: ReportFigures?
        /// The 1-minute load average before and after the whole run.
        public var loadBefore: Double?
        public var loadAfter: Double?
        /// The server's version string.
        public var server = ""
    }

    /// The expiry scan's figures (see `bench events`).
    public struct ExpiryFigures: Sendable {
        /// Certificates inserted.
        public var certificates: Int
        /// The first scan (it marks and announces everything inside its window) and what it did.
        public var firstScanSeconds: Double
        public var firstScan: String
        /// The steady state, best of three, and the certificates inside their threshold without replacement.
        public var steadyScanSeconds: Double
        public var candidates: Int
        /// The expiry alerts' steady state, best of three.
        public var steadyAlertSeconds: Double
        /// EXPLAIN (ANALYZE, BUFFERS) of the scan's candidate query.
        public var plan: String
    }

    /// Runs every phase whose size is not 0: the churn in a scratch database of its own, the rest
    /// in a second one (audit rows first, so that the report runs beside them).
    public func run(baseConnectionString: String) throws -> Results {
        var results = Results()
        results.loadBefore = BenchClock.loadAverage()
        if churnJobs > 0 {
            var queue = QueueBenchmark(executable: executable, log: log)
            queue.churnJobs = churnJobs
            queue.drainJobs = drainJobs
            queue.workerCounts = [workers]
            queue.concurrency = concurrency
            results.churn = try queue.runChurn(baseConnectionString: baseConnectionString)
        }
        if auditRows > 0 || certificates > 0 || jobs > 0 {
            let scratch = try ScratchDatabase(near: baseConnectionString, purpose: "growth")
            defer { scratch.drop() }
            let c = try scratch.migratedConnection(progress: log)
            defer { c.close() }
            results.server = try c.query("SELECT version() AS v")[0].decode("v", as: String.self)
            if auditRows > 0 { results.audit = try measureAudit(c) }
            // The report before the expiry scan's certificates arrive: it reads its own history (1 certificate
            // per 10 jobs, created over 400 days), not a million certificates all created today.
            if jobs > 0 { results.report = try measureReport(c) }
            if certificates > 0 {
                let e = try ExpiryScanMeasurement(certificates: certificates, prefix: "growth").run(on: c, progress: log)
                results.expiry = ExpiryFigures(
                    certificates: e.certificates, firstScanSeconds: e.firstScanSeconds, firstScan: e.firstScan.description,
                    steadyScanSeconds: e.steadyScanSeconds, candidates: e.candidates, steadyAlertSeconds: e.steadyAlertSeconds, plan: e.plan)
            }
        }
        results.loadAfter = BenchClock.loadAverage()
        return results
    }
}
