import Foundation
import Postgres

/// What one ISSUE_CERT job of a soak left behind, gathered in one query: its status and
/// attempts, its request (idempotency key `job:<id>`), the certificates, CA ledger entries, audit
/// rows and events of that request. Plain data, so the checks are pure functions over it.
public struct SoakJobFacts: Sendable, Equatable, Codable {
    /// The job's id.
    public var jobId: Int64
    /// Its status.
    public var status: String
    /// Attempts recorded in `certbus.job_attempts`, in total and by outcome.
    public var attempts = 0
    public var successAttempts = 0
    public var leaseExpiredAttempts = 0
    public var retryAttempts = 0
    /// Requests made for the job (idempotency key `job:<id>`); exactly one expected.
    public var requests = 0
    /// Certificates of the request, and how many distinct fingerprints they have.
    public var certificates = 0
    public var distinctFingerprints = 0
    /// Whether the job's `issued_certificate_id` names the request's certificate.
    public var jobNamesItsCertificate = false
    /// CA ledger entries under the request's idempotency key, and whether the (single) entry's
    /// fingerprint is the certificate's.
    public var ledgerEntries = 0
    public var ledgerMatchesCertificate = false
    /// Audit rows of the request by action.
    public var initiatedRows = 0
    public var csrRows = 0
    public var completedRows = 0
    public var failedRows = 0
    /// CERTIFICATE_ACTION_PERFORMED events of the request with outcome SUCCESS / FAILURE.
    public var successEvents = 0
    public var failureEvents = 0

    /// Facts of a job that has nothing yet; tests fill in the rest.
    public init(jobId: Int64, status: String) {
        self.jobId = jobId
        self.status = status
    }
}

/// Everything the soak's checks read from the database.
public struct SoakObservations: Sendable, Equatable, Codable {
    /// One entry per ISSUE_CERT job found.
    public var jobs: [SoakJobFacts] = []
    /// Certificates in the database, and their distinct fingerprints.
    public var certificates = 0
    public var distinctFingerprints = 0
    /// Built-in CA ledger entries, and those whose fingerprint no certificate row has.
    public var ledgerEntries = 0
    public var ledgerWithoutCertificate = 0
    /// Audit rows by action (the issuance actions only).
    public var auditActions: [String: Int] = [:]
    /// Attempts that did not succeed, by outcome and (the start of) their error, e.g.
    /// "RETRY: server closed the connection unexpectedly" → 12: what the faults did.
    public var unsuccessfulAttempts: [String: Int] = [:]

    /// An empty set of observations (tests build their own).
    public init() {}

    /// Reads the observations of the soak database on `connection` (one consistent snapshot).
    public static func gather(on connection: Connection) throws -> SoakObservations {
        try connection.withTransaction(isolation: .repeatableRead) { c in
            var result = SoakObservations()
            result.jobs = try c.query(perJob).map { row in
                var facts = SoakJobFacts(jobId: try row.decode("id"), status: try row.decode("status"))
                facts.attempts = try row.decode("attempts")
                facts.successAttempts = try row.decode("success_attempts")
                facts.leaseExpiredAttempts = try row.decode("lease_expired")
                facts.retryAttempts = try row.decode("retries")
                facts.requests = try row.decode("requests")
                facts.certificates = try row.decode("certificates")
                facts.distinctFingerprints = try row.decode("fingerprints")
                facts.jobNamesItsCertificate = try row.decode("job_names_certificate")
                facts.ledgerEntries = try row.decode("ledger")
                facts.ledgerMatchesCertificate = try row.decode("ledger_matches")
                facts.initiatedRows = try row.decode("initiated")
                facts.csrRows = try row.decode("csr")
                facts.completedRows = try row.decode("completed")
                facts.failedRows = try row.decode("failed")
                facts.successEvents = try row.decode("success_events")
                facts.failureEvents = try row.decode("failure_events")
                return facts
            }
            let totals = try c.query(
                """
                SELECT (SELECT count(*) FROM certbus.certificates) AS certificates,
                       (SELECT count(DISTINCT fingerprint_sha256) FROM certbus.certificates) AS fingerprints,
                       (SELECT count(*) FROM certbus.ca_issued_certificates) AS ledger,
                       (SELECT count(*) FROM certbus.ca_issued_certificates l
                         WHERE NOT EXISTS (SELECT 1 FROM certbus.certificates c WHERE c.fingerprint_sha256 = l.fingerprint_sha256)) AS orphans
                """)[0]
            result.certificates = try totals.decode("certificates")
            result.distinctFingerprints = try totals.decode("fingerprints")
            result.ledgerEntries = try totals.decode("ledger")
            result.ledgerWithoutCertificate = try totals.decode("orphans")
            for row in try c.query(
                "SELECT action, count(*) AS n FROM certbus.audit_log WHERE action = ANY($1::text[]) GROUP BY action",
                [SoakExpectation.issuanceActions])
            {
                result.auditActions[try row.decode("action")] = try row.decode("n")
            }
            for row in try c.query(
                """
                SELECT outcome || ': ' || left(regexp_replace(regexp_replace(coalesce(error, ''), '[0-9]+', '#', 'g'), '\\s+', ' ', 'g'), 100) AS reason, count(*) AS n
                  FROM certbus.job_attempts WHERE kind = 'ISSUE_CERT' AND outcome <> 'SUCCESS' GROUP BY 1
                """)
            {
                result.unsuccessfulAttempts[try row.decode("reason")] = try row.decode("n")
            }
            return result
        }
    }

    /// Per ISSUE_CERT job: each related table aggregated once by its key, then joined.
    static let perJob = """
        WITH attempts AS (
          SELECT job_id, count(*) AS attempts, count(*) FILTER (WHERE outcome = 'SUCCESS') AS successes,
                 count(*) FILTER (WHERE outcome = 'LEASE_EXPIRED') AS lease_expired,
                 count(*) FILTER (WHERE outcome = 'RETRY') AS retries
            FROM certbus.job_attempts WHERE kind = 'ISSUE_CERT' GROUP BY job_id
        ), requests AS (
          SELECT idempotency_key, count(*) AS n, min(id::text) AS id FROM certbus.certificate_requests
           WHERE idempotency_key LIKE 'job:%' GROUP BY idempotency_key
        ), certificates AS (
          SELECT request_id::text AS request, count(*) AS n, count(DISTINCT fingerprint_sha256) AS fingerprints,
                 min(id::text) AS id, min(fingerprint_sha256) AS fingerprint
            FROM certbus.certificates WHERE request_id IS NOT NULL GROUP BY request_id
        ), ledger AS (
          SELECT idempotency_key, count(*) AS n, min(fingerprint_sha256) AS fingerprint
            FROM certbus.ca_issued_certificates GROUP BY idempotency_key
        ), audit AS (
          SELECT CASE WHEN action = 'ISSUANCE_COMPLETED' THEN details ->> 'requestId' ELSE entity_id END AS request,
                 count(*) FILTER (WHERE action = 'ISSUANCE_INITIATED') AS initiated,
                 count(*) FILTER (WHERE action IN ('CSR_SUBMITTED', 'CSR_GENERATED')) AS csr,
                 count(*) FILTER (WHERE action = 'ISSUANCE_COMPLETED') AS completed,
                 count(*) FILTER (WHERE action = 'ISSUANCE_FAILED') AS failed
            FROM certbus.audit_log
           WHERE action IN ('ISSUANCE_INITIATED', 'CSR_SUBMITTED', 'CSR_GENERATED', 'ISSUANCE_COMPLETED', 'ISSUANCE_FAILED')
           GROUP BY 1
        ), events AS (
          SELECT payload ->> 'request_id' AS request,
                 count(*) FILTER (WHERE payload ->> 'outcome' = 'SUCCESS') AS successes,
                 count(*) FILTER (WHERE payload ->> 'outcome' = 'FAILURE') AS failures
            FROM certbus.events WHERE event_type = 'CERTIFICATE_ACTION_PERFORMED' GROUP BY 1
        )
        SELECT j.id, j.status,
               coalesce(a.attempts, 0) AS attempts, coalesce(a.successes, 0) AS success_attempts,
               coalesce(a.lease_expired, 0) AS lease_expired, coalesce(a.retries, 0) AS retries,
               coalesce(r.n, 0) AS requests, coalesce(c.n, 0) AS certificates, coalesce(c.fingerprints, 0) AS fingerprints,
               coalesce(j.issued_certificate_id::text = c.id, false) AS job_names_certificate,
               coalesce(l.n, 0) AS ledger, coalesce(l.fingerprint = c.fingerprint, false) AS ledger_matches,
               coalesce(au.initiated, 0) AS initiated, coalesce(au.csr, 0) AS csr,
               coalesce(au.completed, 0) AS completed, coalesce(au.failed, 0) + coalesce(jf.failed, 0) AS failed,
               coalesce(e.successes, 0) AS success_events, coalesce(e.failures, 0) + coalesce(je.failures, 0) AS failure_events
          FROM certbus.jobs j
          LEFT JOIN attempts a ON a.job_id = j.id
          LEFT JOIN requests r ON r.idempotency_key = 'job:' || j.id
          LEFT JOIN certificates c ON c.request = r.id
          LEFT JOIN ledger l ON l.idempotency_key = r.id
          LEFT JOIN audit au ON au.request = r.id
          LEFT JOIN audit jf ON jf.request = 'job:' || j.id
          LEFT JOIN events e ON e.request = r.id
          LEFT JOIN events je ON je.request = 'job:' || j.id
         WHERE j.kind = 'ISSUE_CERT'
         ORDER BY j.id
        """
}
