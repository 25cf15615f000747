import CertbusBench
import Testing

/// The soak's counting checks and fault schedule as pure functions: a clean run passes, and each
/// kind of lost or doubled work fails the check that names it (so none of them can pass vacuously).
@Suite("Soak checks")
struct SoakCheckTests {
    /// What a clean run of `count` jobs leaves behind.
    static func clean(_ count: Int, generatedKeys: Bool = false) -> SoakObservations {
        var o = SoakObservations()
        o.jobs = (1...count).map { id in
            var job = SoakJobFacts(jobId: Int64(id), status: "SUCCESS")
            job.attempts = 1
            job.successAttempts = 1
            job.requests = 1
            job.certificates = 1
            job.distinctFingerprints = 1
            job.jobNamesItsCertificate = true
            job.ledgerEntries = 1
            job.ledgerMatchesCertificate = true
            job.initiatedRows = 1
            job.csrRows = 1
            job.completedRows = 1
            job.successEvents = 1
            return job
        }
        o.certificates = count
        o.distinctFingerprints = count
        o.ledgerEntries = count
        o.auditActions = ["ISSUANCE_INITIATED": count, generatedKeys ? "CSR_GENERATED" : "CSR_SUBMITTED": count, "ISSUANCE_COMPLETED": count]
        return o
    }

    static func failing(_ o: SoakObservations, jobs: Int = 10) -> [String: SoakCheck] {
        Dictionary(uniqueKeysWithValues: SoakChecks.evaluate(o, expected: SoakExpectation(jobs: jobs)).filter { !$0.passed }.map { ($0.name, $0) })
    }

    @Test func aCleanRunPassesEveryCheck() {
        let checks = SoakChecks.evaluate(Self.clean(10), expected: SoakExpectation(jobs: 10))
        #expect(checks.map(\.name) == ["jobs", "attempts", "certificates", "ca ledger", "audit rows", "events"])
        #expect(checks.allSatisfy { $0.passed }, "\(checks.filter { !$0.passed })")
        let generated = SoakChecks.evaluate(Self.clean(10, generatedKeys: true), expected: SoakExpectation(jobs: 10, generatedKeys: true))
        #expect(generated.allSatisfy { $0.passed })
    }

    @Test func retriedJobsAreFineWhenTheySucceededOnce() {
        var o = Self.clean(10)
        o.jobs[3].attempts = 3
        o.jobs[3].leaseExpiredAttempts = 1
        o.jobs[3].retryAttempts = 1
        let checks = SoakChecks.evaluate(o, expected: SoakExpectation(jobs: 10))
        #expect(checks.allSatisfy { $0.passed })
        #expect(checks[1].detail.contains("1 job(s) ran more than once (1 LEASE_EXPIRED, 1 RETRY attempts)"))
    }

    @Test func aLostJobFails() {
        var missing = Self.clean(10)
        missing.jobs.removeLast()
        #expect(Self.failing(missing)["jobs"]?.detail.contains("9 job rows found (1 missing)") == true)
        var stuck = Self.clean(10)
        stuck.jobs[4].status = "QUEUED"
        #expect(Self.failing(stuck)["jobs"]?.examples == ["job 5: QUEUED"])
        var failed = Self.clean(10)
        failed.jobs[2].status = "FAILED"
        failed.jobs[2].failedRows = 1
        let checks = Self.failing(failed)
        #expect(checks["jobs"]?.detail.contains("FAILED 1") == true)
        #expect(checks["audit rows"]?.examples.first == "job 3: 1 ISSUANCE_FAILED")
    }

    @Test func aJobWithTwoSuccessfulAttemptsFails() {
        var o = Self.clean(10)
        o.jobs[6].attempts = 2
        o.jobs[6].successAttempts = 2
        #expect(Self.failing(o)["attempts"]?.examples == ["job 7: 2 SUCCESS attempts"])
    }

    @Test func aDoubledCertificateFails() {
        var o = Self.clean(10)
        o.jobs[0].certificates = 2
        o.jobs[0].distinctFingerprints = 2
        o.certificates = 11
        o.distinctFingerprints = 11
        let check = Self.failing(o)["certificates"]
        #expect(check?.examples.contains("job 1: 2 certificates") == true)
        #expect(check?.examples.contains("11 certificate rows for 10 jobs") == true)
        var shared = Self.clean(10)
        shared.distinctFingerprints = 9
        #expect(Self.failing(shared)["certificates"]?.examples == ["1 certificate(s) share a fingerprint with another"])
        var wrongOne = Self.clean(10)
        wrongOne.jobs[1].jobNamesItsCertificate = false
        #expect(Self.failing(wrongOne)["certificates"]?.examples == ["job 2: issued_certificate_id is not its request's certificate"])
    }

    @Test func aSecondSignatureByTheCAFails() {
        var o = Self.clean(10)
        o.jobs[8].ledgerEntries = 2
        o.ledgerEntries = 11
        o.ledgerWithoutCertificate = 1
        let check = Self.failing(o)["ca ledger"]
        #expect(check?.examples == ["job 9: 2 CA ledger entries for its request", "11 ledger entries for 10 requests",
                                    "1 ledger entries without a certificate row"])
    }

    @Test func aDuplicateIssuedAuditRowFails() {
        var o = Self.clean(10)
        o.jobs[5].completedRows = 2
        o.auditActions["ISSUANCE_COMPLETED"] = 11
        let check = Self.failing(o)["audit rows"]
        #expect(check?.examples == ["job 6: 2 ISSUANCE_COMPLETED", "11 ISSUANCE_COMPLETED rows in all (10 expected)"])
        var wrongKind = Self.clean(10)
        wrongKind.auditActions["CSR_GENERATED"] = 1
        #expect(Self.failing(wrongKind)["audit rows"]?.examples == ["1 CSR_GENERATED rows in all (0 expected)"])
    }

    @Test func aMissingOrDoubledEventFails() {
        var o = Self.clean(10)
        o.jobs[9].successEvents = 0
        o.jobs[2].successEvents = 2
        #expect(Self.failing(o)["events"]?.examples.count == 2)
    }

    @Test func faultsComeInOrderAtTheirPoints() {
        let plan = SoakFaultPlan(killAt: 0.3, restartAt: 0.6)
        #expect(plan.due(done: 299, total: 1000, injected: []) == nil)
        #expect(plan.due(done: 300, total: 1000, injected: []) == .killWorker)
        // Past both points at once: the kill comes first, the restart on the next look.
        #expect(plan.due(done: 700, total: 1000, injected: []) == .killWorker)
        #expect(plan.due(done: 599, total: 1000, injected: [.killWorker]) == nil)
        #expect(plan.due(done: 600, total: 1000, injected: [.killWorker]) == .restartServer)
        #expect(plan.due(done: 1000, total: 1000, injected: [.killWorker, .restartServer]) == nil)
        let noRestart = SoakFaultPlan(killAt: 0.3, restartAt: nil)
        #expect(noRestart.due(done: 900, total: 1000, injected: [.killWorker]) == nil)
    }

    @Test func expectedAuditRowsFollowTheKeySource() {
        #expect(SoakExpectation(jobs: 1).auditRowsPerJob == ["ISSUANCE_INITIATED", "CSR_SUBMITTED", "ISSUANCE_COMPLETED"])
        #expect(SoakExpectation(jobs: 1, generatedKeys: true).auditRowsPerJob == ["ISSUANCE_INITIATED", "CSR_GENERATED", "ISSUANCE_COMPLETED"])
    }
}
