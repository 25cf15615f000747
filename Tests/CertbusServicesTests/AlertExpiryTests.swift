import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The expiry alert generator: one alert per ladder step, dedup, auto-resolve, state not events.
@Suite struct AlertExpiryTests {
    struct AlertRow: Equatable {
        var cause: String
        var type: String
        var severity: String
        var open: Bool
        var resolution: String?
    }

    func alerts(_ c: Connection) throws -> [AlertRow] {
        try c.query("SELECT cause_key, alert_type, severity, resolved_at IS NULL AS open, resolution FROM certbus.alerts ORDER BY id")
            .map { AlertRow(cause: try $0.decode("cause_key"), type: try $0.decode("alert_type"),
                            severity: try $0.decode("severity"), open: try $0.decode("open"),
                            resolution: try $0.decode("resolution")) }
    }

    @Test func eachStepRaisesOneAlertAndSupersedesTheLast() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let cert = try f.insertCertificate(notAfter: daysFromNow(20))
        let id = cert.uuidString.lowercased()
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary(raised: 1, resolved: 0))
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary())
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary())
        #expect(try alerts(c) == [AlertRow(cause: "expiry:\(id):30d", type: "EXPIRING_SOON", severity: "WARN", open: true)])
        let title = try c.query("SELECT title, message FROM certbus.alerts")[0]
        #expect(try title.decode("title", as: String.self) == "Certificate www.example.com expires in 19 days")
        #expect(try title.decode("message", as: String.self).contains("no valid replacement"))

        try c.execute("UPDATE certbus.certificates SET not_after = now() + interval '12 hours' WHERE id = $1", [cert])
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary(raised: 1, resolved: 1))
        #expect(try alerts(c) == [
            AlertRow(cause: "expiry:\(id):30d", type: "EXPIRING_SOON", severity: "WARN", open: false, resolution: "superseded by 1d"),
            AlertRow(cause: "expiry:\(id):1d", type: "EXPIRING_SOON", severity: "ERROR", open: true),
        ])
        try c.execute("UPDATE certbus.certificates SET not_after = now() - interval '1 hour' WHERE id = $1", [cert])
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary(raised: 1, resolved: 1))
        #expect(try alerts(c).last == AlertRow(cause: "expiry:\(id):expired", type: "ERROR", severity: "ERROR", open: true))
    }

    @Test func validSuccessorResolvesEveryAlertOfTheCertificate() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let cert = try f.insertCertificate(notAfter: daysFromNow(5))
        _ = try ExpiryAlerts().run(on: c)
        try Alerts.raise(on: c, type: .error, severity: .error, title: "Renewal failed", message: "CA down",
                         entity: .certificate, entityId: cert.uuidString.lowercased(),
                         causeKey: "renewal-failed:\(cert.uuidString.lowercased())")
        // A revoked successor does not count.
        let revoked = try f.insertCertificate(notAfter: daysFromNow(90), status: "REVOKED", predecessorId: cert)
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary())
        _ = revoked
        _ = try f.insertCertificate(notBefore: Date(), notAfter: daysFromNow(90), predecessorId: cert)
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary(raised: 0, resolved: 2))
        #expect(try alerts(c).allSatisfy { !$0.open && $0.resolution == "valid successor issued" })
        // History stays; nothing is raised again while the successor is valid.
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary())
        #expect(try alerts(c).count == 2)
    }

    @Test func revokedCertificateAlertsResolve() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let cert = try f.insertCertificate(notAfter: daysFromNow(5))
        _ = try ExpiryAlerts().run(on: c)
        try c.execute("UPDATE certbus.certificates SET status = 'REVOKED', revoked_at = now() WHERE id = $1", [cert])
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary(raised: 0, resolved: 1))
        #expect(try alerts(c).first?.resolution == "certificate revoked")
    }

    @Test func generatorThatWasDownCatchesUpFromState() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        // Certificates that crossed thresholds while no generator ran: one alert each, for the current step only.
        for days in [25.0, 10, 3, 0.5, -2] { _ = try f.insertCertificate(notAfter: daysFromNow(days)) }
        _ = try f.insertCertificate(notAfter: daysFromNow(-45))  // expired long ago: history, no alert
        _ = try f.insertCertificate(notAfter: daysFromNow(45))   // not yet inside the ladder
        #expect(try ExpiryAlerts().run(on: c) == AlertScanSummary(raised: 5, resolved: 0))
        let suffixes = try alerts(c).map { String($0.cause.split(separator: ":").last!) }
        #expect(Set(suffixes) == ["30d", "14d", "7d", "1d", "expired"])
    }

    @Test func concurrentGeneratorsRaiseEachAlertOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        for i in 0..<50 { _ = try f.insertCertificate(notAfter: daysFromNow(Double(i % 30) + 0.5)) }
        let errors = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 4) { _ in
            do {
                let conn = try db.connect()
                defer { conn.close() }
                for _ in 0..<3 { _ = try ExpiryAlerts().run(on: conn) }
            } catch {
                errors.mutate { $0.append("\(error)") }
            }
        }
        #expect(errors.value == [])
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.alerts")[0].decode("n", as: Int.self) == 50)
        #expect(try c.query("SELECT count(DISTINCT entity_id)::int AS n FROM certbus.alerts WHERE resolved_at IS NULL")[0]
            .decode("n", as: Int.self) == 50)
    }

    @Test func viewsShowTheDailyRoutine() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let ca = try f.insertCA()
        let web = try f.insertProfile(name: "web", caId: ca)
        let soon = try f.insertCertificate(caId: ca, profileId: web, notAfter: daysFromNow(0.5))
        let replaced = try f.insertCertificate(caId: ca, profileId: web, notAfter: daysFromNow(3))
        _ = try f.insertCertificate(caId: ca, profileId: web, notAfter: daysFromNow(90), predecessorId: replaced)
        _ = try ExpiryAlerts().run(on: c)
        let expiring = try c.query("SELECT id, profile, ladder_step_days FROM certbus.expiring_certificates_without_replacement")
        #expect(try expiring.map { try $0.decode("id", as: UUID.self) } == [soon])
        #expect(try expiring[0].decode("profile", as: String.self) == "web")
        #expect(try expiring[0].decode("ladder_step_days", as: Int.self) == 1)
        let unread = try c.query("SELECT entity_id, still_open FROM certbus.unread_error_alerts")
        #expect(try unread.map { try $0.decode("entity_id", as: String.self) } == [soon.uuidString.lowercased()])
        let byDay = try c.query("SELECT alert_type, severity, raised, unread, still_open FROM certbus.alerts_by_type_and_day")
        #expect(byDay.count == 1)
        #expect(try byDay[0].decode("raised", as: Int.self) == 1)
    }
}
