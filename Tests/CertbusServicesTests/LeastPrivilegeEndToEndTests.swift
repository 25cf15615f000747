import CertbusTesting
import Foundation
import PKI
import Postgres
import Testing

/// The product works under the grants of sql/060, as a deployment runs it: every command below
/// logs in as a real LOGIN role that is a member of one certbus group only, never the superuser.
/// certbus_service runs `certbus serve` (worker, scheduler, audit sealer, event dispatcher) and the
/// operator commands, issuing and revoking a certificate end to end; certbus_auditor verifies the
/// sealed audit chain and may read nothing else; certbus_reporter runs the reports and listings
/// and may write nothing. Uses its own TestDatabase; drops it, then the three roles.
@Suite struct LeastPrivilegeEndToEndTests {
    @Test func theProductRunsUnderItsLeastPrivilegedRoles() throws {
        let service = try TestLoginRole(prefix: "service_login", memberOf: ["certbus_service"])
        let reporter = try TestLoginRole(prefix: "reporter_login", memberOf: ["certbus_reporter"])
        let auditor = try TestLoginRole(prefix: "auditor_login", memberOf: ["certbus_auditor"])
        defer { [service, reporter, auditor].forEach { $0.drop() } }
        let db = try TestDatabase.create()
        defer { db.drop() }
        let scratch = try CertScratch()
        let kek = try scratch.write(try SecretBox.Key.generate().base64, to: "kek")
        chmod(kek, 0o600)
        let environment = ["CERTBUS_KEK_FILE": kek, "CERTBUS_HOME": scratch.path("home"), "CERTBUS_USER": "operator"]
        func run(_ login: TestLoginRole, _ arguments: [String]) throws -> CommandResult {
            try CertbusCommand.run(arguments, databaseURL: login.connectionString(db), environment: environment, timeout: 120)
        }

        // The service login: set up, serve, issue, revoke.
        for setup in [["ca", "create", "corp"], ["profile", "create", "web", "--ca", "corp", "--domain", "*.corp.test"]] {
            let result = try run(service, setup)
            #expect(result.status == 0, "\(setup): \(result.error)")
        }
        let serve = try CertbusCommand(["serve", "--quiet"], databaseURL: service.connectionString(db), environment: environment)
        defer { serve.kill() }
        let issued = try run(service, ["cert", "request", "--profile", "web", "--cn", "www.corp.test", "--wait", "--timeout", "90", "--json"])
        #expect(issued.status == 0, "\(issued.error)")
        let certificate = try #require((try? issued.json() as? [String: Any])?["id"] as? String, "\(issued.output)")
        let revoked = try run(service, ["cert", "revoke", certificate, "--reason", "superseded", "--wait", "--timeout", "90"])
        #expect(revoked.status == 0, "\(revoked.error)")

        // The sealer (running as the service login) seals every audit row.
        let admin = try db.connect()
        defer { admin.close() }
        let deadline = Date().addingTimeInterval(60)
        var unsealed = -1
        repeat {
            unsealed = try admin.query("SELECT count(*)::int AS n FROM certbus.audit_log WHERE chain_position IS NULL")[0].decode("n")
            if unsealed > 0 { Thread.sleep(forTimeInterval: 0.2) }
        } while unsealed > 0 && Date() < deadline
        #expect(unsealed == 0)
        serve.kill()
        let served = serve.finish()
        #expect(!served.combined.contains("permission denied"), "\(served.combined)")
        #expect(try admin.query("SELECT status FROM certbus.certificates WHERE id = $1::uuid", [certificate])[0].decode("status", as: String.self) == "REVOKED")
        #expect(try admin.query("SELECT count(*)::int AS n FROM certbus.audit_log WHERE action IN ('ISSUANCE_COMPLETED', 'REVOCATION_COMPLETED')")[0]
            .decode("n", as: Int.self) == 2)

        // The auditor login: the audit log, and nothing else.
        let verified = try run(auditor, ["audit", "verify"])
        #expect(verified.status == 0, "\(verified.combined)")
        #expect(verified.output.contains("audit chain OK"), "\(verified.output)")
        #expect(try run(auditor, ["audit", "list", "--entity-type", "Certificate"]).status == 0)
        for forbidden in [["cert", "list"], ["jobs", "list"], ["report", "daily"]] {
            let refused = try run(auditor, forbidden)
            #expect(refused.status == 1, "\(forbidden): \(refused.combined)")
            #expect(refused.error.contains("permission denied"), "\(forbidden): \(refused.error)")
        }

        // The reporter login: reports and listings; every write is refused and changes nothing.
        for report in [["report", "daily"], ["report", "weekly"], ["cert", "list"], ["jobs", "list"], ["audit", "list"], ["ca", "list"]] {
            let result = try run(reporter, report)
            #expect(result.status == 0, "\(report): \(result.error)")
        }
        let jobs = try admin.query("SELECT count(*)::int AS n FROM certbus.jobs")[0].decode("n", as: Int.self)
        for write in [["jobs", "enqueue", "NOOP"], ["cert", "request", "--profile", "web", "--cn", "x.corp.test"],
                      ["jobs", "retry", "1"], ["alerts", "read", "--all"], ["ca", "create", "rogue"]] {
            let refused = try run(reporter, write)
            #expect(refused.status == 1, "\(write): \(refused.combined)")
            #expect(refused.error.contains("permission denied"), "\(write): \(refused.error)")
        }
        #expect(try admin.query("SELECT count(*)::int AS n FROM certbus.jobs")[0].decode("n", as: Int.self) == jobs)
        #expect(try admin.query("SELECT count(*)::int AS n FROM certbus.certificate_authorities WHERE name = 'rogue'")[0]
            .decode("n", as: Int.self) == 0)
    }

    /// The owner needs no superuser: a login that owns the database (with CREATEROLE, which
    /// sql/001 needs to create the group roles on a new cluster) applies every migration, and
    /// again with CREATEROLE taken away; it then owns every object of schema certbus.
    @Test func aNonSuperuserOwnerMigrates() throws {
        let owner = try TestLoginRole(prefix: "owner_login", memberOf: [], createRole: true)
        defer { owner.drop() }
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        try TestCluster.withAdmin { admin in
            try admin.execute("ALTER DATABASE \(try admin.quoteIdentifier(db.name)) OWNER TO \(try admin.quoteIdentifier(owner.name))")
        }
        let first = try CertbusCommand.run(["migrate"], databaseURL: owner.connectionString(db), timeout: 300)
        #expect(first.status == 0, "\(first.combined)")
        try TestCluster.withAdmin { admin in try admin.execute("ALTER ROLE \(try admin.quoteIdentifier(owner.name)) NOCREATEROLE") }
        let again = try CertbusCommand.run(["migrate"], databaseURL: owner.connectionString(db), timeout: 120)
        #expect(again.status == 0, "\(again.combined)")
        let c = try db.connect()
        defer { c.close() }
        let foreign = try c.query(
            """
            SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'certbus' AND c.relowner <> $1::regrole
            """, [owner.name])[0].decode("n", as: Int.self)
        #expect(foreign == 0)
        #expect(try c.query("SELECT count(*)::int AS n FROM certbus.schema_migrations")[0].decode("n", as: Int.self) > 30)
    }
}
