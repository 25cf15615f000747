@testable import CertbusServices
import CertbusTesting
import Foundation
import Postgres
import Testing

/// `certbus report daily|weekly|sample` end to end: the built executable against a fresh test
/// database each (`TestDatabase`, dropped at the end), writing into a scratch folder that is
/// removed at the end.
@Suite struct ReportCommandTests {
    func certbus(_ arguments: [String], _ db: TestDatabase) throws -> CommandResult {
        try CertbusCommand.run(arguments, database: db, timeout: 120)
    }

    /// A scratch folder, removed by the caller.
    static func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent(TestCluster.uniqueName(prefix: "report"))
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test func everyFormatOfBothReports() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let c = try db.connect()
        let sample = try ReportSampleData(certificates: 300, jobs: 600).insert(on: c)
        c.close()

        let table = try certbus(["report", "weekly"], db)
        #expect(table.status == 0, "\(table.error)")
        #expect(table.output.contains("== Key figures\nCertificates issued"))
        #expect(table.output.contains("== Mean time to renew (certbus.report_renewal_times)\nWEEK_STARTING"))
        #expect(table.error.isEmpty, "no progress or notes on a non-terminal: \(table.error)")

        let json = try certbus(["report", "weekly", "--format", "json", "--weeks", "4", "--ahead", "2"], db)
        #expect(json.status == 0, "\(json.error)")
        let report = try #require(try json.json() as? [String: Any])
        #expect(report["report"] as? String == "weekly")
        let sections = try #require(report["sections"] as? [String: [String: Any]])
        #expect((sections["certificate_trends"]?["rows"] as? [Any])?.count == 4)
        #expect((sections["upcoming_expiries"]?["rows"] as? [Any])?.count == 2)
        // The key figures are the sections' totals.
        let rows = try #require(sections["certificate_trends"]?["rows"] as? [[String: Any]])
        let figures = try #require(report["figures"] as? [String: [String: Any]])
        #expect(figures["renewed"]?["value"] as? Int == rows.compactMap { $0["renewed"] as? Int }.reduce(0, +))
        #expect(sample.renewals > 0)
        // --json is --format json.
        let flag = try certbus(["report", "daily", "--json"], db)
        #expect(flag.status == 0, "\(flag.error)")
        #expect((try flag.json() as? [String: Any])?["report"] as? String == "daily")

        let csv = try certbus(["report", "weekly", "--format", "csv"], db)
        #expect(csv.status == 0, "\(csv.error)")
        #expect(csv.output.hasPrefix("section,figure,label,value,unit,week_starting,"))
        #expect(csv.output.contains("\r\nrenewal_times,"))
        let one = try certbus(["report", "weekly", "--format", "csv", "--section", "alert_volume", "--weeks", "2"], db)
        #expect(one.output.components(separatedBy: "\r\n").first ==
                "week_starting,raised,error_raised,warn_raised,expiring_soon_raised,still_open,still_unread,mean_hours_to_resolve")
        #expect(one.output.components(separatedBy: "\r\n").filter { !$0.isEmpty }.count == 3)

        let page = dir.appendingPathComponent("weekly.html")
        let html = try certbus(["report", "weekly", "--format", "html", "--out", page.path], db)
        #expect(html.status == 0, "\(html.error)")
        #expect(html.output.isEmpty)
        #expect(html.error.hasPrefix("wrote the weekly report (html, "))
        let text = try String(contentsOf: page, encoding: .utf8)
        #expect(text.hasPrefix("<!DOCTYPE html>"))
        #expect(text.contains("<h2 id=\"renewal-times-heading\">Mean time to renew</h2>"))
        #expect(text.components(separatedBy: "<svg class=\"chart\"").count - 1 == 5)
        // Written atomically: only the page is left in the folder, readable by others (umask 022).
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["weekly.html"])
        let mask = umask(0)
        umask(mask)
        let mode = try FileManager.default.attributesOfItem(atPath: page.path)[.posixPermissions] as? Int
        #expect(mode == Int(0o666 & ~mask))

        // Replacing an existing file; --out - is standard output.
        try "old".write(to: page, atomically: true, encoding: .utf8)
        let daily = try certbus(["report", "daily", "--format", "html", "-o", page.path], db)
        #expect(daily.status == 0, "\(daily.error)")
        #expect(try String(contentsOf: page, encoding: .utf8).contains("<h1>certbus daily report</h1>"))
        let stdout = try certbus(["report", "daily", "--format", "html", "--out", "-"], db)
        #expect(stdout.output.hasPrefix("<!DOCTYPE html>"))
    }

    @Test func badInputIsRefusedClearlyAndWritesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let dir = try Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let usage: [([String], String)] = [
            (["report", "weekly", "--format", "pdf"], "expected one of table, html, csv, json"),
            (["report", "daily", "--format", ""], "expected one of table, html, csv, json"),
            (["report", "weekly", "--weeks", "0"], "--weeks must be between 1 and 520, not 0"),
            (["report", "weekly", "--ahead", "521"], "--ahead must be between 1 and 520, not 521"),
            (["report", "weekly", "--weeks", "many"], "--weeks"),
            (["report", "weekly", "--json", "--format", "html"], "--json and --format html ask for different formats"),
            (["report", "weekly", "--section", "nope"], "no section 'nope'; its sections are: figures, certificate_trends"),
            (["report", "daily", "--section", ","], "--section needs a section id"),
            (["report", "daily", "--out", ""], "--out needs a file name"),
            (["report", "daily", "--weeks", "2"], "--weeks"),
            (["report", "sample", "--certificates", "0"], "--certificates must be between 1"),
        ]
        for (arguments, message) in usage {
            let result = try certbus(arguments, db)
            #expect(result.status == 2, "\(arguments): \(result.combined)")
            #expect(result.error.contains(message), "\(arguments): \(result.error)")
        }
        let failures: [([String], String)] = [
            (["report", "weekly", "--format", "html", "--out", dir.path], "is a directory; give a file name such as"),
            (["report", "weekly", "--out", dir.appendingPathComponent("no/such/report.html").path], "/no/such does not exist"),
        ]
        for (arguments, message) in failures {
            let result = try certbus(arguments, db)
            #expect(result.status == 1, "\(arguments): \(result.combined)")
            #expect(result.error.hasPrefix("error: cannot write the report to "), "\(arguments): \(result.error)")
            #expect(result.error.contains(message), "\(arguments): \(result.error)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
        // The sample never lands in a database that holds real work without --force.
        let c = try db.connect()
        defer { c.close() }
        try ReportQueryTests.Fixtures(c).certificate("2024-01-01T00:00:00Z", notAfter: "2024-04-01T00:00:00Z")
        try c.execute("INSERT INTO certbus.certificates (ca_id, serial_number, fingerprint_sha256, subject, issuer, key_algorithm, not_before, not_after, certificate_pem) SELECT NULL, 'x' || g, md5('p' || g) || md5('q' || g), 'CN=a', 'CN=b', 'EC-P256', now(), now() + interval '1 day', 'PEM' FROM generate_series(1, 10) g")
        let refused = try certbus(["report", "sample", "--certificates", "20", "--jobs", "0"], db)
        #expect(refused.status == 1)
        #expect(refused.error.contains("already holds 11 certificates"), "\(refused.error)")
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.certificates")[0].decode("n", as: Int.self) == 11)
    }

    @Test func anUnmigratedDatabaseIsNamed() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        for report in ["daily", "weekly"] {
            let result = try certbus(["report", report, "--format", "html"], db)
            #expect(result.status == 1, "\(result.combined)")
            #expect(result.error.contains("run 'certbus migrate' first"), "\(result.error)")
            #expect(result.output.isEmpty)
        }
    }

    @Test func sampleFillsAScratchDatabase() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let result = try certbus(["report", "sample", "--certificates", "200", "--jobs", "300", "--json"], db)
        #expect(result.status == 0, "\(result.error)")
        let summary = try #require(try result.json() as? [String: Int])
        #expect(summary["jobs"] == 300)
        #expect((summary["certificates"] ?? 0) > 100)
        let again = try certbus(["report", "sample", "--certificates", "5", "--jobs", "0"], db)
        #expect(again.status == 1)
        #expect(again.error.contains("already holds"), "\(again.error)")
    }
}
