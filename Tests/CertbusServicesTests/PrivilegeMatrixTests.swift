import CertbusTesting
import Foundation
import Postgres
import Testing

/// Least privilege, tested for real: for each kind of login (`Login`), a LOGIN role created in the
/// test connects over the test cluster's socket to its own fresh database and tries every
/// operation on every relation, sequence and function of schema `certbus`, enumerated from the
/// catalog, so a new table cannot slip through unchecked. Expectations: `PrivilegeMatrix`.
/// Each test case drops its database, then its role. Serialized, to spare a small machine thirty
/// databases at once.
@Suite(.serialized) struct PrivilegeMatrixTests {
    /// A relation of schema certbus as the catalog lists it.
    struct Relation {
        /// pg_class.oid (so that a login without USAGE on the schema can still be asked about it).
        let oid: Int64
        let name: String
        /// pg_class.relkind: r table, p partitioned table, v view, m materialized view, f foreign table.
        let kind: String
        /// The matrix row that applies: the relation itself, or the table a partition belongs to.
        let row: String
        /// A column to name in the UPDATE statement: never `id` (through a view, an identity column
        /// can only be set to DEFAULT, checked before privileges) nor a seal column of the audit log.
        let column: String
        var qualified: String { "certbus.\"\(name)\"" }
        var isView: Bool { kind == "v" || kind == "m" }
    }

    static func relations(on c: Connection) throws -> [Relation] {
        try c.query(
            """
            SELECT c.oid::bigint AS oid, c.relname AS name, c.relkind::text AS kind,
                   coalesce((SELECT p.relname FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent
                              WHERE i.inhrelid = c.oid), c.relname) AS row_name,
                   (SELECT a.attname FROM pg_attribute a
                     WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                       AND a.attname NOT IN ('id', 'chain_position', 'chain_hash')
                     ORDER BY a.attnum LIMIT 1) AS column_name
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'certbus' AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
             ORDER BY c.relname
            """
        ).map {
            Relation(oid: try $0.decode("oid"), name: try $0.decode("name"), kind: try $0.decode("kind"), row: try $0.decode("row_name"),
                     column: try $0.decode("column_name"))
        }
    }

    /// The statement that exercises `operation` on `relation` (no row is touched by UPDATE and
    /// DELETE; the transaction is rolled back whatever happens).
    static func statement(_ operation: PrivilegeMatrix.Operation, on relation: Relation) -> String {
        switch operation {
        case .select: "SELECT * FROM \(relation.qualified) LIMIT 0"
        case .insert: "INSERT INTO \(relation.qualified) DEFAULT VALUES"
        case .update: "UPDATE \(relation.qualified) SET \"\(relation.column)\" = DEFAULT WHERE false"
        case .delete: "DELETE FROM \(relation.qualified) WHERE false"
        case .truncate: "TRUNCATE \(relation.qualified)"
        }
    }

    @Test func everyRelationHasARowAndEveryRowARelation() async throws {
        try await expectNoProblems("the matrix") {
            let db = try TestDatabase.create()
            defer { db.drop() }
            let c = try db.connect()
            defer { c.close() }
            let relations = try Self.relations(on: c)
            var problems = Problems()
            let missing = Set(relations.map(\.row)).subtracting(PrivilegeMatrix.rows.map(\.relation)).sorted()
            problems.check(missing.isEmpty, "relations of schema certbus without a row in PrivilegeMatrix.rows: \(missing)")
            let stale = Set(PrivilegeMatrix.rows.map(\.relation)).subtracting(relations.map(\.name)).sorted()
            problems.check(stale.isEmpty, "PrivilegeMatrix.rows names relations that do not exist: \(stale)")
            problems.check(Set(PrivilegeMatrix.rows.map(\.relation)).count == PrivilegeMatrix.rows.count, "a relation has two rows")
            // The audit log's partitions are there and read as audit_log.
            problems.check(relations.filter { $0.row == "audit_log" && $0.name != "audit_log" }.count >= 2, "no audit_log partitions")
            return problems.list
        }
    }

    /// Role × relation × operation: the real statement as the real login, and the privilege the
    /// catalog reports to that session, both match the matrix.
    @Test(arguments: Login.allCases)
    func relationMatrix(_ login: Login) async throws {
        try await expectNoProblems("\(login)") {
            let fixture = try LoginFixture(login)
            var problems = Problems()
            for relation in try Self.relations(on: fixture.admin) {
                guard let allowed = PrivilegeMatrix.rights(login, relation.row) else {
                    problems.check(false, "no matrix row for \(relation.name)")
                    continue
                }
                for operation in PrivilegeMatrix.Operation.allCases {
                    let expected = allowed.contains(operation)
                    let catalog = try fixture.session.query(
                        "SELECT has_table_privilege($1::bigint::oid, $2) AS p", [relation.oid, operation.rawValue]
                    )[0].decode("p", as: Bool.self)
                    problems.check(catalog == expected,
                                   "\(operation.rawValue) \(relation.qualified): has_table_privilege says \(catalog), matrix says \(expected)")
                    let attempt = try fixture.attempt(Self.statement(operation, on: relation))
                    // Writes to a view that is not automatically updatable fail before any privilege
                    // check (55000/0A000, and 42809 for TRUNCATE); the catalog check above covers them.
                    var impossible = false
                    if case .ran(let state?) = attempt, relation.isView, ["55000", "0A000", "42809"].contains(state) { impossible = true }
                    problems.check(impossible ? !expected : attempt.isRefused != expected,
                                   "\(operation.rawValue) \(relation.qualified): \(attempt), matrix says \(expected ? "allowed" : "refused")")
                }
            }
            return problems.list
        }
    }

    /// Sequences: only certbus_service draws ids (nextval); nobody may set them (setval).
    @Test(arguments: Login.allCases)
    func sequences(_ login: Login) async throws {
        try await expectNoProblems("\(login)") {
            let fixture = try LoginFixture(login)
            let sequences = try fixture.admin.query(
                """
                SELECT 'certbus.' || c.relname AS name, c.oid::bigint AS oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = 'certbus' AND c.relkind = 'S' ORDER BY 1
                """
            ).map { (name: try $0.decode("name", as: String.self), oid: try $0.decode("oid", as: Int64.self)) }
            var problems = Problems()
            problems.check(sequences.contains { $0.name == "certbus.jobs_id_seq" }, "certbus.jobs_id_seq not found")
            for (sequence, oid) in sequences {
                let next = try fixture.attempt("SELECT nextval($1::bigint::oid::regclass)", [oid])
                problems.check(next.isRefused == (login != .service), "nextval(\(sequence)): \(next)")
                let set = try fixture.attempt("SELECT setval($1::bigint::oid::regclass, 1000000)", [oid])
                problems.check(set.isRefused, "setval(\(sequence)): \(set)")
            }
            return problems.list
        }
    }

    /// Functions: who may EXECUTE what, for every function of the schema. PostgreSQL grants EXECUTE
    /// to PUBLIC by default; the login in no certbus group proves nothing of that is left.
    @Test(arguments: Login.allCases)
    func functionMatrix(_ login: Login) async throws {
        try await expectNoProblems("\(login)") {
            let fixture = try LoginFixture(login)
            let functions = try fixture.session.query(
                """
                SELECT p.oid::regprocedure::text AS signature, p.proname AS name, p.provolatile::text AS volatility,
                       p.prosecdef AS definer, has_function_privilege(p.oid, 'EXECUTE') AS executable
                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'certbus' ORDER BY 1
                """)
            var problems = Problems()
            problems.check(functions.count > 50, "only \(functions.count) functions found")
            var granted: Set<String> = []
            for row in functions {
                let name = try row.decode("name", as: String.self)
                let readOnly = try row.decode("volatility", as: String.self) != "v" && !(try row.decode("definer", as: Bool.self))
                let expected: Bool
                switch login {
                case .service: expected = true
                case .agent: expected = PrivilegeMatrix.agentFunctions.contains(name)
                case .reporter: expected = readOnly
                case .auditor, .nobody: expected = false
                }
                let executable = try row.decode("executable", as: Bool.self)
                if executable { granted.insert(name) }
                try problems.check(executable == expected,
                                   "\(try row.decode("signature", as: String.self)): expected \(expected ? "EXECUTE" : "no EXECUTE")")
            }
            if login == .agent {
                problems.check(granted == PrivilegeMatrix.agentFunctions, "certbus_agent may EXECUTE \(granted.sorted())")
            }
            return problems.list
        }
    }

    /// Functions that write, called for real: refused for every login but certbus_service, for
    /// which the same call passes the privilege check (the positive control).
    static let writingCalls: [(function: String, sql: String)] = [
        ("enqueue_job", "SELECT certbus.enqueue_job('NOOP')"),
        ("enqueue_job_if_absent", "SELECT certbus.enqueue_job_if_absent('NOOP')"),
        ("write_audit", "SELECT certbus.write_audit('CA_CREATED', 'CA', 'x', 'USER', 'mallory')"),
        ("emit_event", "SELECT certbus.emit_event('CERTIFICATE_ISSUED', 'CERTIFICATE', 'x', '{}')"),
        ("raise_alert", "SELECT certbus.raise_alert('ERROR', 'ERROR', 'forged', 'forged', 'CA', 'x', 'forged:1')"),
        ("resolve_alerts", "SELECT certbus.resolve_alerts('job:', 'forged')"),
        ("cancel_job", "SELECT certbus.cancel_job(1, 'USER', 'mallory')"),
        ("retry_job", "SELECT certbus.retry_job(1, 'USER', 'mallory')"),
        ("claim_jobs", "SELECT * FROM certbus.claim_jobs('w', 1, ARRAY['default'], NULL, 60, NULL, NULL)"),
        ("rescue_expired_jobs", "SELECT certbus.rescue_expired_jobs(10, 1, 1, 1)"),
        ("delete_old_events", "SELECT certbus.delete_old_events(0, 10)"),
        ("mark_silent_agents_offline", "SELECT certbus.mark_silent_agents_offline('1 second')"),
        ("audit_ensure_partitions", "SELECT certbus.audit_ensure_partitions(0)"),
        ("change_endpoint_status", "SELECT certbus.change_endpoint_status(gen_random_uuid(), 'CONFIGURED', 'USER', 'x', '', NULL)"),
        ("request_install", "SELECT certbus.request_install(gen_random_uuid(), NULL, 'web', NULL, NULL, 'USER', 'x')"),
        ("audit_apply_grants", "SELECT certbus.audit_apply_grants()"),
    ]

    @Test(arguments: Login.allCases)
    func writingFunctionsCalledForReal(_ login: Login) async throws {
        try await expectNoProblems("\(login)") {
            let fixture = try LoginFixture(login)
            var problems = Problems()
            for call in Self.writingCalls {
                let attempt = try fixture.attempt(call.sql)
                problems.check(attempt.isRefused == (login != .service), "\(call.function): \(attempt)")
            }
            for table in ["jobs", "alerts", "audit_log", "events"] {
                let rows = try fixture.admin.query("SELECT count(*)::int AS n FROM certbus.\(table)")[0].decode("n", as: Int.self)
                problems.check(rows == 0, "\(rows) rows in certbus.\(table)")
            }
            return problems.list
        }
    }

    /// Schemas: the four groups may look into schema certbus; nobody may create anything in it or
    /// in schema public; a login in no certbus group cannot even name an object of certbus.
    @Test(arguments: Login.allCases)
    func schemas(_ login: Login) async throws {
        try await expectNoProblems("\(login)") {
            let fixture = try LoginFixture(login)
            let row = try fixture.session.query(
                """
                SELECT has_schema_privilege('certbus', 'USAGE') AS usage, has_schema_privilege('certbus', 'CREATE') AS create_certbus,
                       has_schema_privilege('public', 'CREATE') AS create_public
                """)[0]
            var problems = Problems()
            try problems.check(try row.decode("usage", as: Bool.self) == (login != .nobody), "USAGE on schema certbus")
            try problems.check(try row.decode("create_certbus", as: Bool.self) == false, "CREATE on schema certbus")
            try problems.check(try row.decode("create_public", as: Bool.self) == false, "CREATE on schema public")
            var refused = [
                "CREATE TABLE certbus.planted (a int)", "CREATE FUNCTION certbus.planted() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                "CREATE TABLE public.planted (a int)",
            ]
            if login == .nobody { refused += ["SELECT count(*) FROM certbus.jobs", "SELECT certbus.agent_queue(gen_random_uuid())"] }
            for sql in refused {
                let attempt = try fixture.attempt(sql)
                problems.check(attempt.isRefused, "\(sql): \(attempt)")
            }
            return problems.list
        }
    }

    /// The one UPDATE certbus_service has on the audit log: its two seal columns (the trigger then
    /// allows it once per row, AuditAppendOnlyTests); no other login has even that.
    @Test(arguments: Login.allCases)
    func sealColumnsOfTheAuditLog(_ login: Login) async throws {
        try await expectNoProblems("\(login)") {
            let fixture = try LoginFixture(login)
            var problems = Problems()
            for relation in try Self.relations(on: fixture.admin).filter({ $0.row == "audit_log" }) {
                let seal = try fixture.attempt("UPDATE \(relation.qualified) SET chain_position = NULL, chain_hash = NULL WHERE false")
                problems.check(seal.isRefused == (login != .service), "sealing \(relation.qualified): \(seal)")
                let details = try fixture.attempt("UPDATE \(relation.qualified) SET details = '{}' WHERE false")
                problems.check(details.isRefused, "updating details of \(relation.qualified): \(details)")
            }
            return problems.list
        }
    }

    /// Every SECURITY DEFINER function pins search_path with pg_temp last (else the session's
    /// temporary schema is searched first for tables and types), and is not executable by PUBLIC.
    @Test func definerFunctionsPinASafeSearchPath() async throws {
        try await expectNoProblems("definer functions") {
            let db = try TestDatabase.create()
            defer { db.drop() }
            let c = try db.connect()
            defer { c.close() }
            let rows = try c.query(
                """
                SELECT p.oid::regprocedure::text AS signature, p.prosecdef AS definer,
                       (SELECT s FROM unnest(p.proconfig) s WHERE s LIKE 'search\\_path=%') AS search_path,
                       (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0)) AS public_execute
                  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'certbus' AND (p.prosecdef OR p.proconfig::text LIKE '%search\\_path%')
                 ORDER BY 1
                """)
            var problems = Problems()
            problems.check(rows.count >= 14, "only \(rows.count) functions with a fixed search_path")
            try problems.check(try rows.filter { try $0.decode("definer", as: Bool.self) }.count >= 13, "fewer SECURITY DEFINER functions than expected")
            for row in rows {
                let signature = try row.decode("signature", as: String.self)
                let path = try row.decode("search_path", as: String?.self)
                problems.check(path == "search_path=pg_catalog, certbus, pg_temp", "\(signature): \(path ?? "no search_path")")
                try problems.check(try row.decode("public_execute", as: Bool.self) == false, "\(signature) is executable by PUBLIC")
            }
            return problems.list
        }
    }
}
