import CertbusBus
import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The job part of the alert generator: failed jobs and renewal failures, from the jobs table.
@Suite struct AlertJobFailureTests {
    func enqueue(_ c: Connection, kind: String, certificate: UUID? = nil) throws -> Int64 {
        let payload = certificate.map { #"{"certificate_id": "\#($0.uuidString.lowercased())"}"# } ?? "{}"
        return try c.query("SELECT certbus.enqueue_job($1, $2::jsonb) AS id", [kind, PostgresJSON(text: payload)])[0]
            .decode("id", as: Int64.self)
    }

    func finish(_ c: Connection, _ id: Int64, _ status: String, error: String? = "CA unreachable") throws {
        try c.execute(
            "UPDATE certbus.jobs SET status = $2, attempt = max_attempts, started_at = now(), completed_at = clock_timestamp(), error = $3 WHERE id = $1",
            [id, status, status == "FAILED" ? error : nil])
    }

    func open(_ c: Connection) throws -> [String] {
        try c.query("SELECT cause_key FROM certbus.alerts WHERE resolved_at IS NULL ORDER BY cause_key")
            .map { try $0.decode("cause_key") }
    }

    @Test func failedJobRaisesOnceAndResolvesWhenARetrySucceeds() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let job = try enqueue(c, kind: "NOOP")
        let ok = try enqueue(c, kind: "NOOP")
        try finish(c, job, "FAILED")
        try finish(c, ok, "SUCCESS")
        #expect(try JobFailureAlerts().run(on: c) == AlertScanSummary(raised: 1))
        #expect(try JobFailureAlerts().run(on: c) == AlertScanSummary())
        #expect(try open(c) == ["job:\(job)"])
        let alert = try AlertInbox.list(on: c)[0]
        #expect(alert.entityType == "JOB" && alert.entityId == String(job) && alert.severity == .error)
        #expect(alert.message.contains("CA unreachable"))
        // An operator's retry that succeeds resolves it; the history stays.
        try finish(c, job, "SUCCESS")
        #expect(try JobFailureAlerts().run(on: c) == AlertScanSummary(resolved: 1))
        #expect(try open(c) == [])
        #expect(try AlertInbox.find(on: c, id: alert.id).resolution == "job succeeded on retry")
    }

    @Test func renewalFailureIsACertificateAlertResolvedByALaterRenewal() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let cert = try f.insertCertificate(commonName: "shop.example.com", notAfter: daysFromNow(40))
        let renewal = try enqueue(c, kind: "RENEW_CERT", certificate: cert)
        try finish(c, renewal, "FAILED")
        #expect(try JobFailureAlerts().run(on: c) == AlertScanSummary(raised: 1))
        let key = "renewal-failed:\(cert.uuidString.lowercased())"
        #expect(try open(c) == [key])
        let alert = try AlertInbox.list(on: c)[0]
        #expect(alert.entityType == "CERTIFICATE" && alert.title == "Renewal of certificate shop.example.com failed")
        // The handler may have raised the same cause itself: still one alert.
        try Alerts.raise(on: c, type: .error, severity: .error, title: "Renewal failed", message: "m",
                         entity: .certificate, entityId: cert.uuidString.lowercased(), causeKey: key)
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.alerts")[0].decode("n", as: Int.self) == 1)
        let again = try enqueue(c, kind: "RENEW_CERT", certificate: cert)
        try finish(c, again, "SUCCESS")
        #expect(try JobFailureAlerts().run(on: c) == AlertScanSummary(resolved: 1))
        #expect(try open(c) == [])
        #expect(try JobFailureAlerts().run(on: c) == AlertScanSummary())  // not raised again: a later renewal succeeded
    }

    @Test func oldFailuresAreOutsideTheWindow() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let job = try enqueue(c, kind: "NOOP")
        try finish(c, job, "FAILED")
        try c.execute("UPDATE certbus.jobs SET created_at = now() - interval '30 days', started_at = now() - interval '30 days', completed_at = now() - interval '30 days' WHERE id = $1", [job])
        #expect(try JobFailureAlerts(windowDays: 7).run(on: c) == AlertScanSummary())
        #expect(try JobFailureAlerts(windowDays: 60).run(on: c) == AlertScanSummary(raised: 1))
    }
}
