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
    @Test func theProductRunsUnderItsLeastPrivilegedRoles() async throws {
        try await expectNoProblems("least privilege end to end") { try Self.runUnderLeastPrivilege() }
    }

    static func runUnderLeastPrivilege() throws -> [String] {
        var problems = Problems()
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
            problems.check(result.status == 0, "\(setup): \(result.error)")
        }
        let serve = try CertbusCommand(["serve", "--quiet"], databaseURL: service.connectionString(db), environment: environment)
        defer { serve.kill() }
        let issued = try run(service, ["cert", "request", "--profile", "web", "--cn", "www.corp.test", "--wait", "--timeout", "90", "--json"])
        guard let certificate = (try? issued.json() as? [String: Any])?["id"] as? String else {
            return problems.list + ["no certificate issued: \(issued.combined)"]
        }
        let revoked = try run(service, ["cert", "revoke", certificate, "--reason", "superseded", "--wait", "--timeout", "90"])
        problems.check(revoked.status == 0, "revoke: \(revoked.error)")

        // The sealer (running as the service login) seals every audit row.
        let admin = try db.connect()
        defer { admin.close() }
        let deadline = Date().addingTimeInterval(60)
        var unsealed = -1
        repeat {
            unsealed = try admin.query("SELECT count(*)::int AS n FROM certbus.audit_log WHERE chain_position IS NULL")[0].decode("n")
            if unsealed > 0 { Thread.sleep(forTimeInterval: 0.2) }
        } while unsealed > 0 && Date() < deadline
        problems.check(unsealed == 0, "\(unsealed) audit rows left unsealed")
        serve.kill()
        let served = serve.finish()
        problems.check(!served.combined.contains("permission denied"), "serve: \(served.combined)")
        let status = try admin.query("SELECT status FROM certbus.certificates WHERE id = $1::uuid", [certificate])[0].decode("status", as: String.self)
        problems.check(status == "REVOKED", "the certificate is \(status)")
        let completed = try admin.query(
            "SELECT count(*)::int AS n FROM certbus.audit_log WHERE action IN ('ISSUANCE_COMPLETED', 'REVOCATION_COMPLETED')")[0].decode("n", as: Int.self)
        problems.check(completed == 2, "\(completed) ISSUANCE_COMPLETED/REVOCATION_COMPLETED rows")

        // The auditor login: the audit log, and nothing else.
        let verified = try run(auditor, ["audit", "verify"])
        problems.check(verified.status == 0 && verified.output.contains("audit chain OK"), "audit verify: \(verified.combined)")
        let listed = try run(auditor, ["audit", "list", "--entity-type", "Certificate"])
        problems.check(listed.status == 0, "audit list: \(listed.combined)")
        for forbidden in [["cert", "list"], ["jobs", "list"], ["report", "daily"]] {
            let refused = try run(auditor, forbidden)
            problems.check(refused.status == 1 && refused.error.contains("permission denied"), "auditor \(forbidden): \(refused.combined)")
        }

        // The reporter login: reports and listings; every write is refused and changes nothing.
        for report in [["report", "daily"], ["report", "weekly"], ["cert", "list"], ["jobs", "list"], ["audit", "list"], ["ca", "list"]] {
            let result = try run(reporter, report)
            problems.check(result.status == 0, "reporter \(report): \(result.error)")
        }
        let jobs = try admin.query("SELECT count(*)::int AS n FROM certbus.jobs")[0].decode("n", as: Int.self)
        for write in [["jobs", "enqueue", "NOOP"], ["cert", "request", "--profile", "web", "--cn", "x.corp.test"],
                      ["jobs", "retry", "1"], ["alerts", "read", "--all"], ["ca", "create", "rogue"]] {
            let refused = try run(reporter, write)
            problems.check(refused.status == 1 && refused.error.contains("permission denied"), "reporter \(write): \(refused.combined)")
        }
        let jobsAfter = try admin.query("SELECT count(*)::int AS n FROM certbus.jobs")[0].decode("n", as: Int.self)
        problems.check(jobsAfter == jobs, "the reporter's refused writes changed the jobs")
        let rogue = try admin.query("SELECT count(*)::int AS n FROM certbus.certificate_authorities WHERE name = 'rogue'")[0].decode("n", as: Int.self)
        problems.check(rogue == 0, "the reporter created a CA")
        return problems.list
    }

    /// The owner needs no superuser: a login that owns the database (with CREATEROLE, which
    /// sql/001 needs to create the group roles on a new cluster) applies every migration, and
    /// again with CREATEROLE taken away; it then owns every object of schema certbus.
    @Test func aNonSuperuserOwnerMigrates() async throws {
        try await expectNoProblems("a non-superuser owner") { try Self.migrateAsOwner() }
    }

    static func migrateAsOwner() throws -> [String] {
        var problems = Problems()
        let owner = try TestLoginRole(prefix: "owner_login", memberOf: [], createRole: true)
        defer { owner.drop() }
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        try TestCluster.withAdmin { admin in
            try admin.execute("ALTER DATABASE \(try admin.quoteIdentifier(db.name)) OWNER TO \(try admin.quoteIdentifier(owner.name))")
        }
        let first = try CertbusCommand.run(["migrate"], databaseURL: owner.connectionString(db), timeout: 300)
        problems.check(first.status == 0, "first migrate: \(first.combined)")
        try TestCluster.withAdmin { admin in try admin.execute("ALTER ROLE \(try admin.quoteIdentifier(owner.name)) NOCREATEROLE") }
        let again = try CertbusCommand.run(["migrate"], databaseURL: owner.connectionString(db), timeout: 120)
        problems.check(again.status == 0, "migrate without CREATEROLE: \(again.combined)")
        let c = try db.connect()
        defer { c.close() }
        let foreign = try c.query(
            """
            SELECT count(*)::int AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'certbus' AND c.relowner <> $1::regrole
            """, [owner.name])[0].decode("n", as: Int.self)
        problems.check(foreign == 0, "\(foreign) relations of schema certbus not owned by the owner")
        let applied = try c.query("SELECT count(*)::int AS n FROM certbus.schema_migrations")[0].decode("n", as: Int.self)
        problems.check(applied > 30, "only \(applied) migrations applied")
        return problems.list
    }
}
