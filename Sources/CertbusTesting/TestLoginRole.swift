import Foundation
import Postgres

/// A PostgreSQL `LOGIN` role on the shared test cluster, for tests that connect as something
/// other than the superuser (agents, services, reporters, auditors, a login in no certbus group).
///
/// Roles are cluster-wide while test databases are per test, so each role gets a name unique
/// across processes and runs (`TestCluster.uniqueName`); it is a member of exactly `groups` and
/// nothing else. Call `drop()` when done, after the databases it connected to are dropped
/// (`defer { role.drop() }` declared before the database's `defer`): it removes what the role
/// still owns or was granted in `databases` still alive, then the role itself.
public final class TestLoginRole: @unchecked Sendable {
    /// The role's name (lower case, safe to use unquoted).
    public let name: String
    /// The group roles it is a member of, e.g. `["certbus_agent"]`; empty for a login in none.
    public let groups: [String]

    /// Creates `CREATE ROLE <unique name> LOGIN [CREATEROLE] [IN ROLE groups...]`.
    public init(prefix: String = "login", memberOf groups: [String], createRole: Bool = false) throws {
        self.name = TestCluster.uniqueName(prefix: prefix).lowercased()
        self.groups = groups
        let name = self.name
        // The group roles are made by the migrations: make sure they ran on this cluster.
        if !groups.isEmpty { _ = try TestCluster.migratedTemplate() }
        try TestCluster.withAdmin { admin in
            var sql = "CREATE ROLE \(try admin.quoteIdentifier(name)) LOGIN" + (createRole ? " CREATEROLE" : "")
            if !groups.isEmpty {
                sql += " IN ROLE " + (try groups.map { try admin.quoteIdentifier($0) }).joined(separator: ", ")
            }
            try admin.execute(sql)
        }
    }

    /// The libpq connection string of `db` logged in as this role.
    public func connectionString(_ db: TestDatabase) -> String {
        db.connectionString + " user=\(name)"
    }

    /// A connection to `db` as this role (statements unprepared when `preparesStatements` is false).
    public func connect(_ db: TestDatabase, applicationName: String = "certbus-login-test", preparesStatements: Bool? = nil) throws
        -> Connection
    {
        try Connection(
            configuration: ConnectionConfiguration(
                connectionString(db), applicationName: applicationName, preparesStatements: preparesStatements))
    }

    /// Drops the role: first `DROP OWNED BY` in each of `databases` (objects it owns, privileges
    /// granted to it), then `DROP ROLE`. Errors are ignored (the role may be gone already).
    public func drop(in databases: [TestDatabase] = []) {
        let name = name
        for db in databases {
            if let c = try? Connection(configuration: ConnectionConfiguration(db.connectionString, applicationName: "certbus-test-admin")) {
                _ = try? c.execute("DROP OWNED BY \(try c.quoteIdentifier(name))")
                c.close()
            }
        }
        _ = try? TestCluster.withAdmin { admin in
            try admin.execute("DROP ROLE IF EXISTS \(try admin.quoteIdentifier(name))")
        }
    }
}
