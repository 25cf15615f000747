import CertbusCore
import Foundation
import Postgres

/// What a failed renewal leaves behind: a counted failure, `renew_at` pushed forward with
/// backoff (so the scheduler tries again later instead of looping), and one open ERROR alert
/// per certificate, resolved when a renewal succeeds.
enum RenewalAlerts {
    /// The alert cause key of renewal failures of `certificate`.
    static func causeKey(_ certificate: UUID) -> String { "renewal:\(certificate.uuidString.lowercased())" }

    /// Records a final renewal failure of `certificate` in the caller's transaction.
    static func recordFailure(certificate: CertificateRecord, message: String, retry: RenewalRetry = RenewalRetry(),
                              now: Date = Date(), on c: Connection) throws {
        guard let row = try c.query(
            "SELECT renewal_failures, not_after FROM certbus.certificates WHERE id = $1 FOR UPDATE", [certificate.id]).firstRow
        else { return }
        let failures: Int = try row.decode("renewal_failures") + 1
        let notAfter: Date = try row.decode("not_after")
        let next = retry.nextAttempt(afterFailures: failures, now: now, notAfter: notAfter)
        try c.execute(
            "UPDATE certbus.certificates SET renewal_failures = $2, renewal_last_error = $3, renew_at = $4 WHERE id = $1",
            [certificate.id, failures, message, next])
        let name = certificate.commonName ?? certificate.subjectAlternativeNames.first ?? certificate.id.uuidString.lowercased()
        try Lifecycle.raiseAlert(
            type: .error, title: "Renewal failed for \(name)",
            message: "Renewal of certificate \(certificate.id.uuidString.lowercased()) failed \(failures) time(s): \(message). Next attempt at \(PostgresTimestamp.format(next)); it expires at \(PostgresTimestamp.format(notAfter)).",
            entity: .certificate, entityId: certificate.id.uuidString.lowercased(), causeKey: causeKey(certificate.id), on: c)
    }
}
