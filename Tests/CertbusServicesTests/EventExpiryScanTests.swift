import CertbusCore
import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// The hourly "certificate expiring" scan: statuses, status events, CERTIFICATE_EXPIRING per ladder step.
@Suite struct EventExpiryScanTests {
    func events(_ c: Connection, _ type: EventType) throws -> [PayloadValue] {
        try c.query("SELECT payload::text AS p FROM certbus.events WHERE event_type = $1 ORDER BY id", [type.rawValue])
            .map { try PayloadValue.parse(json: try $0.decode("p", as: String.self)) }
    }

    func status(_ c: Connection, _ id: UUID) throws -> String {
        try c.query("SELECT status FROM certbus.certificates WHERE id = $1", [id])[0].decode("status")
    }

    @Test func statusesChangeWithEventsAndExpiringIsAnnouncedOncePerStep() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let ca = try f.insertCA()
        let web = try f.insertProfile(name: "web", caId: ca)
        let group = try f.insertGroup(name: "shop")
        let far = try f.insertCertificate(caId: ca, profileId: web, notAfter: daysFromNow(60))
        let soon = try f.insertCertificate(caId: ca, profileId: web, groupId: group, commonName: "soon.example.com",
                                           notAfter: daysFromNow(20))
        let past = try f.insertCertificate(caId: ca, profileId: web, notAfter: daysFromNow(-1))
        let replaced = try f.insertCertificate(caId: ca, profileId: web, notAfter: daysFromNow(3))
        _ = try f.insertCertificate(caId: ca, profileId: web, notBefore: daysFromNow(-1), notAfter: daysFromNow(89),
                                    predecessorId: replaced)

        let first = try CertificateExpiryScan().run(on: c)
        #expect(first == ExpiryScanSummary(expired: 1, expiring: 2, expiringEvents: 1, withoutReplacement: 1))
        #expect(try status(c, far) == "VALID")
        #expect(try status(c, soon) == "EXPIRING")
        #expect(try status(c, past) == "EXPIRED")
        #expect(try status(c, replaced) == "EXPIRING")  // status is about the certificate itself

        let changes = try events(c, .certificateStatusChanged)
        #expect(changes.count == 3)
        let toExpired = try #require(changes.first { $0.value(at: ["new_status"]) == .string("EXPIRED") })
        #expect(toExpired.value(at: ["certificate_id"]) == .string(past.uuidString.lowercased()))
        #expect(toExpired.value(at: ["old_status"]) == .string("VALID"))
        #expect(toExpired.value(at: ["profile_id"]) == .string(web.uuidString.lowercased()))

        let expiring = try events(c, .certificateExpiring)
        #expect(expiring.count == 1)
        let e = expiring[0]
        #expect(e.value(at: ["certificate_id"]) == .string(soon.uuidString.lowercased()))
        #expect(e.value(at: ["common_name"]) == .string("soon.example.com"))
        #expect(e.value(at: ["days_left"]) == .number(19))
        #expect(e.value(at: ["ladder_step_days"]) == .number(30))
        #expect(e.value(at: ["threshold_days"]) == .number(30))
        #expect(e.value(at: ["group_id"]) == .string(group.uuidString.lowercased()))
        let row = try c.query("SELECT profile_id, group_id FROM certbus.events WHERE event_type = 'CERTIFICATE_EXPIRING'")[0]
        #expect(try row.decode("group_id", as: UUID.self) == group)

        // Running again changes nothing; reaching the next step announces it once more.
        #expect(try CertificateExpiryScan().run(on: c) == ExpiryScanSummary(withoutReplacement: 1))
        try c.execute("UPDATE certbus.certificates SET not_after = now() + interval '10 days' WHERE id = $1", [soon])
        #expect(try CertificateExpiryScan().run(on: c).expiringEvents == 1)
        #expect(try events(c, .certificateExpiring).last?.value(at: ["ladder_step_days"]) == .number(14))
        // The seed's hourly mode announces every such certificate on every run.
        #expect(try CertificateExpiryScan(announceEveryRun: true).run(on: c).expiringEvents == 1)
        #expect(try CertificateExpiryScan(announceEveryRun: true).run(on: c).expiringEvents == 1)
    }

    @Test func revokedSuccessorIsNoReplacement() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let ca = try f.insertCA()
        let old = try f.insertCertificate(caId: ca, notAfter: daysFromNow(5))
        _ = try f.insertCertificate(caId: ca, notAfter: daysFromNow(90), status: "REVOKED", predecessorId: old)
        _ = try f.insertCertificate(caId: ca, notBefore: daysFromNow(-200), notAfter: daysFromNow(-100), status: "EXPIRED",
                                    predecessorId: old)
        #expect(try CertificateExpiryScan().run(on: c).expiringEvents == 1)
    }

    @Test func shortLivedCertificatesUseFractionsOfTheirLifetime() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        // 6-day certificates: the first step (30 d of 60) fires at half the lifetime, 3 days before expiry.
        let early = try f.insertCertificate(notBefore: daysFromNow(-2), notAfter: daysFromNow(4))
        let late = try f.insertCertificate(notBefore: daysFromNow(-4), notAfter: daysFromNow(2))
        _ = try CertificateExpiryScan().run(on: c)
        #expect(try status(c, early) == "VALID")
        #expect(try status(c, late) == "EXPIRING")
        let e = try #require(try events(c, .certificateExpiring).first)
        #expect(e.value(at: ["threshold_days"]) == .number(3))
    }

    @Test func nothingIsEmittedWhenTheScanRollsBack() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        let cert = try f.insertCertificate(notAfter: daysFromNow(-1))
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try c.withTransaction { tx in
                _ = try CertificateExpiryScan().run(on: tx)
                throw Boom()
            }
        }
        #expect(try status(c, cert) == "VALID")
        #expect(try c.query("SELECT count(*) AS n FROM certbus.events")[0].decode("n", as: Int.self) == 0)
    }

    @Test func concurrentScansEmitOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let f = EventFixtures(connection: c)
        for i in 0..<40 { _ = try f.insertCertificate(notAfter: daysFromNow(Double(i % 20) - 4.5)) }
        let errors = LockedBox<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 3) { _ in
            do {
                let conn = try db.connect()
                defer { conn.close() }
                for _ in 0..<3 { _ = try CertificateExpiryScan().run(on: conn) }
            } catch {
                errors.mutate { $0.append("\(error)") }
            }
        }
        #expect(errors.value == [])
        let counts = try c.query(
            "SELECT event_type, count(*)::int AS n, count(DISTINCT resource_id)::int AS d FROM certbus.events GROUP BY 1 ORDER BY 1")
        for row in counts { #expect(try row.decode("n", as: Int.self) == row.decode("d", as: Int.self)) }
        // 40 certificates: 10 expired, 30 inside 30 days → status changes for all 40, 30 expiring announcements.
        #expect(try counts.map { try $0.decode("n", as: Int.self) } == [30, 40])
    }

    @Test func sqlLadderAgreesWithTheSwiftLadder() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        var generator = SystemRandomNumberGenerator()
        let now = Date(timeIntervalSince1970: 1_900_000_000)
        let ladders: [[Int]] = [[30, 14, 7, 1], [90, 30], [10], [], [5, 5, 0, -1, 2]]
        var cases: [(Date, Date, [Int])] = []
        for _ in 0..<300 {
            let lifetime = Double(Int.random(in: 3600...(400 * 86400), using: &generator))
            let left = Double(Int.random(in: -86400...(Int(lifetime)), using: &generator))
            let notAfter = now.addingTimeInterval(left)
            cases.append((notAfter.addingTimeInterval(-lifetime), notAfter, ladders.randomElement(using: &generator)!))
        }
        for (notBefore, notAfter, steps) in cases {
            let sql = try c.query(
                "SELECT certbus.expiry_ladder_step($1, $2, $3::int[], $4) AS s", [notBefore, notAfter, steps, now]
            )[0].decode("s", as: Int?.self)
            let swift: Int? = switch ExpiryLadder(days: steps).position(notBefore: notBefore, notAfter: notAfter, now: now) {
            case .outside: nil
            case .expired: 0
            case .step(let days): days
            }
            #expect(sql == swift, "ladder \(steps) from \(notBefore) to \(notAfter)")
        }
    }
}
