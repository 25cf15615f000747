import Foundation

/// What a soak run must have produced.
public struct SoakExpectation: Sendable, Equatable {
    /// ISSUE_CERT jobs enqueued.
    public var jobs: Int
    /// Whether certbus generated the keys (CSR_GENERATED audit rows) or the jobs carried CSRs (CSR_SUBMITTED).
    public var generatedKeys: Bool

    /// The expectation for `jobs` jobs.
    public init(jobs: Int, generatedKeys: Bool = false) {
        self.jobs = jobs
        self.generatedKeys = generatedKeys
    }

    /// The audit actions one issuance may write.
    static let issuanceActions = ["ISSUANCE_INITIATED", "CSR_SUBMITTED", "CSR_GENERATED", "ISSUANCE_COMPLETED", "ISSUANCE_FAILED"]

    /// The audit rows one successful inline issuance writes, each exactly once, in the
    /// transaction that marks its job SUCCESS (`IssuanceProcess.recordSuccess`).
    public var auditRowsPerJob: [String] {
        ["ISSUANCE_INITIATED", generatedKeys ? "CSR_GENERATED" : "CSR_SUBMITTED", "ISSUANCE_COMPLETED"]
    }
}

/// The verdict on one property of a soak run.
public struct SoakCheck: Sendable, Equatable, Codable {
    /// Short name: `jobs`, `certificates`, `attempts`, `ca ledger`, `audit rows`, `events`, `chains`, ...
    public var name: String
    /// Whether the property holds.
    public var passed: Bool
    /// One line saying what was found.
    public var detail: String
    /// The first few offenders (jobs, rows), when it does not hold.
    public var examples: [String]

    /// A verdict.
    public init(_ name: String, passed: Bool, detail: String, examples: [String] = []) {
        self.name = name
        self.passed = passed
        self.detail = detail
        self.examples = Array(examples.prefix(5))
    }
}

/// The counting checks of a soak, as pure functions of what the database holds: nothing lost
/// (every job SUCCESS), nothing doubled (one successful attempt, one certificate, one ledger
/// entry, one set of audit rows and one event per job).
public enum SoakChecks {
    /// Every counting check, in report order.
    public static func evaluate(_ o: SoakObservations, expected: SoakExpectation) -> [SoakCheck] {
        [jobs(o, expected), attempts(o), certificates(o, expected), ledger(o, expected), auditRows(o, expected), events(o)]
    }

    /// Exactly `expected.jobs` ISSUE_CERT jobs, all SUCCESS.
    static func jobs(_ o: SoakObservations, _ expected: SoakExpectation) -> SoakCheck {
        var byStatus: [String: Int] = [:]
        for job in o.jobs { byStatus[job.status, default: 0] += 1 }
        let success = byStatus["SUCCESS", default: 0]
        let others = ["QUEUED", "RUNNING", "FAILED", "CANCELLED"].map { "\($0) \(byStatus[$0, default: 0])" }
        let passed = success == expected.jobs && o.jobs.count == expected.jobs
        var detail = "\(success) of \(expected.jobs) SUCCESS; " + others.joined(separator: ", ")
        if o.jobs.count != expected.jobs { detail += "; \(o.jobs.count) job rows found (\(expected.jobs - o.jobs.count) missing)" }
        return SoakCheck("jobs", passed: passed, detail: detail,
                         examples: o.jobs.filter { $0.status != "SUCCESS" }.map { "job \($0.jobId): \($0.status)" })
    }

    /// No job with two SUCCESS attempts; every SUCCESS job has exactly one.
    static func attempts(_ o: SoakObservations) -> SoakCheck {
        let doubled = o.jobs.filter { $0.successAttempts > 1 }
        let missing = o.jobs.filter { $0.status == "SUCCESS" && $0.successAttempts == 0 }
        let again = o.jobs.filter { $0.attempts > 1 }
        let expired = o.jobs.reduce(0) { $0 + $1.leaseExpiredAttempts }
        let retried = o.jobs.reduce(0) { $0 + $1.retryAttempts }
        var detail = doubled.isEmpty ? "no job with two SUCCESS attempts" : "\(doubled.count) job(s) with two or more SUCCESS attempts"
        if !missing.isEmpty { detail += "; \(missing.count) SUCCESS job(s) without a SUCCESS attempt" }
        detail += "; \(again.count) job(s) ran more than once (\(expired) LEASE_EXPIRED, \(retried) RETRY attempts)"
        return SoakCheck("attempts", passed: doubled.isEmpty && missing.isEmpty, detail: detail,
                         examples: doubled.map { "job \($0.jobId): \($0.successAttempts) SUCCESS attempts" }
                            + missing.map { "job \($0.jobId): SUCCESS without a SUCCESS attempt" })
    }

    /// One request and one certificate per job, named by the job; as many distinct certificates as jobs.
    static func certificates(_ o: SoakObservations, _ expected: SoakExpectation) -> SoakCheck {
        var examples: [String] = []
        for job in o.jobs {
            if job.requests != 1 { examples.append("job \(job.jobId): \(job.requests) requests") }
            if job.certificates != 1 { examples.append("job \(job.jobId): \(job.certificates) certificates") }
            if job.certificates == 1 && !job.jobNamesItsCertificate { examples.append("job \(job.jobId): issued_certificate_id is not its request's certificate") }
        }
        if o.certificates != expected.jobs { examples.append("\(o.certificates) certificate rows for \(expected.jobs) jobs") }
        if o.distinctFingerprints != o.certificates { examples.append("\(o.certificates - o.distinctFingerprints) certificate(s) share a fingerprint with another") }
        let passed = examples.isEmpty && o.jobs.count == expected.jobs
        return SoakCheck("certificates", passed: passed,
                         detail: "\(o.distinctFingerprints) distinct certificates for \(expected.jobs) jobs (\(o.certificates) rows)",
                         examples: examples)
    }

    /// The CA signed once per request: one ledger entry per request, the certificate's own, no stray entries.
    static func ledger(_ o: SoakObservations, _ expected: SoakExpectation) -> SoakCheck {
        var examples: [String] = []
        for job in o.jobs {
            if job.ledgerEntries != 1 { examples.append("job \(job.jobId): \(job.ledgerEntries) CA ledger entries for its request") }
            else if !job.ledgerMatchesCertificate { examples.append("job \(job.jobId): the CA ledger entry is not the stored certificate") }
        }
        if o.ledgerEntries != expected.jobs { examples.append("\(o.ledgerEntries) ledger entries for \(expected.jobs) requests") }
        if o.ledgerWithoutCertificate > 0 { examples.append("\(o.ledgerWithoutCertificate) ledger entries without a certificate row") }
        return SoakCheck("ca ledger", passed: examples.isEmpty,
                         detail: "\(o.ledgerEntries) CA ledger entries (one per request expected), \(o.ledgerWithoutCertificate) without a certificate",
                         examples: examples)
    }

    /// Per job exactly the audit rows of one issuance, and none of a failure; the totals agree.
    static func auditRows(_ o: SoakObservations, _ expected: SoakExpectation) -> SoakCheck {
        var examples: [String] = []
        for job in o.jobs {
            let counts = [("ISSUANCE_INITIATED", job.initiatedRows), (expected.auditRowsPerJob[1], job.csrRows),
                          ("ISSUANCE_COMPLETED", job.completedRows), ("ISSUANCE_FAILED", job.failedRows)]
            let wrong = counts.filter { $0.0 == "ISSUANCE_FAILED" ? $0.1 != 0 : $0.1 != 1 }
            if !wrong.isEmpty { examples.append("job \(job.jobId): " + wrong.map { "\($0.1) \($0.0)" }.joined(separator: ", ")) }
        }
        for action in SoakExpectation.issuanceActions {
            let wanted = expected.auditRowsPerJob.contains(action) ? expected.jobs : 0
            let found = o.auditActions[action, default: 0]
            if found != wanted { examples.append("\(found) \(action) rows in all (\(wanted) expected)") }
        }
        let perJob = expected.auditRowsPerJob.map { "1 \($0)" }.joined(separator: ", ")
        return SoakCheck("audit rows", passed: examples.isEmpty && o.jobs.count == expected.jobs,
                         detail: "per job \(perJob), 0 ISSUANCE_FAILED; totals " + expected.auditRowsPerJob.map { "\(o.auditActions[$0, default: 0]) \($0)" }.joined(separator: ", "),
                         examples: examples)
    }

    /// One successful CERTIFICATE_ACTION_PERFORMED event per job, no failure events.
    static func events(_ o: SoakObservations) -> SoakCheck {
        let wrong = o.jobs.filter { $0.successEvents != 1 || $0.failureEvents != 0 }
        let total = o.jobs.reduce(0) { $0 + $1.successEvents }
        return SoakCheck("events", passed: wrong.isEmpty,
                         detail: "\(total) CERTIFICATE_ACTION_PERFORMED SUCCESS events, one per job expected",
                         examples: wrong.map { "job \($0.jobId): \($0.successEvents) success and \($0.failureEvents) failure events" })
    }
}
