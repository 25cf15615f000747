import CertbusTesting
import Foundation
import Postgres
import Testing

@testable import Postgres

/// Data statements are prepared once per session and reused (fresh test database each).
@Suite struct PreparedStatementTests {
    /// The statements this session holds prepared, as the server sees them.
    private func preparedCount(_ c: Connection) throws -> Int {
        // Utility statement: never prepared itself, so it does not count itself.
        try c.execute("SET application_name TO 'prepared-statement-test'")
        return try c.query("SELECT count(*)::int AS n FROM pg_prepared_statements")[0].decode("n", as: Int.self) - 1
    }

    @Test func aRepeatedStatementIsPreparedOnceAndUtilityStatementsNever() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("CREATE TABLE t (id int PRIMARY KEY, note text, blob bytea)")
        let base = try preparedCount(c)  // the count query itself, now prepared
        for i in 1...5 {
            try c.execute("INSERT INTO t (id, note) VALUES ($1, $2)", [i, "row \(i)"])
        }
        #expect(try preparedCount(c) == base + 1)
        #expect(try c.query("SELECT note FROM t WHERE id = $1", [3])[0].decode("note", as: String.self) == "row 3")
        #expect(try c.query("SELECT note FROM t WHERE id = $1", [4])[0].decode("note", as: String.self) == "row 4")
        #expect(try preparedCount(c) == base + 2)
        // Transaction control, SET and DDL run unprepared.
        try c.withTransaction { tx in try tx.execute("UPDATE t SET note = $1 WHERE id = $2", ["changed", 1]) }
        try c.execute("CREATE INDEX t_note ON t (note)")
        #expect(try preparedCount(c) == base + 3)  // only the UPDATE
        // The same text with other parameter types (NULL, then bytea) is another statement, and both work.
        try c.execute("UPDATE t SET blob = $1 WHERE id = $2", [Optional<Data>.none, 1])
        try c.execute("UPDATE t SET blob = $1 WHERE id = $2", [Data([0, 1, 2]), 2])
        #expect(try c.query("SELECT blob FROM t WHERE id = 2")[0].decode("blob", as: Data.self) == Data([0, 1, 2]))
        #expect(try preparedCount(c) == base + 6)
        // DISCARD ALL makes the server forget them; the connection notices and prepares again.
        try c.execute("DISCARD ALL")
        #expect(try c.query("SELECT note FROM t WHERE id = $1", [3])[0].decode("note", as: String.self) == "row 3")
        #expect(try preparedCount(c) == 1)
        // A new session starts empty; so does a reconnected one.
        try c.reconnect()
        #expect(try preparedCount(c) == 0)
    }

    @Test func aTableChangedUnderAPreparedStatementIsHandled() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("CREATE TABLE t (a int)")
        try c.execute("INSERT INTO t VALUES (1)")
        #expect(try c.query("SELECT * FROM t").columns.count == 1)
        // Another session changes the table, as a migration would.
        let other = try db.connect()
        try other.execute("ALTER TABLE t ADD COLUMN b text DEFAULT 'x'")
        // Outside a transaction the statement is simply prepared again.
        #expect(try c.query("SELECT * FROM t").columns.count == 2)
        #expect(try c.query("SELECT * FROM t").columns.count == 2)  // prepared again
        try other.execute("ALTER TABLE t ADD COLUMN c int")
        // Inside one, the caller sees the error once; the next transaction works.
        let error = try #require(throws: PostgresError.self) {
            try c.withTransaction { tx in _ = try tx.query("SELECT * FROM t") }
        }
        #expect(error.sqlState == "0A000")
        let columns = try c.withTransaction { tx in try tx.query("SELECT * FROM t").columns.count }
        #expect(columns == 3)
    }

    @Test func errorsAreReportedAsBeforeAndNothingBadIsKept() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        let base = try preparedCount(c)
        let error = try #require(throws: PostgresError.self) { try c.query("SELECT nope FROM nowhere WHERE x = $1", [1]) }
        #expect(error.sqlState == "42P01")
        #expect(error.query == "SELECT nope FROM nowhere WHERE x = $1")
        #expect(try preparedCount(c) == base)
        #expect(try c.query("SELECT $1::int + 1 AS v", [41])[0].decode("v", as: Int.self) == 42)
    }

    @Test func preparationCanBeTurnedOff() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        var configuration = db.configuration()
        configuration.preparesStatements = false
        let c = try Connection(configuration: configuration)
        for i in 1...3 { _ = try c.query("SELECT $1::int AS v", [i]) }
        #expect(try c.query("SELECT count(*)::int AS n FROM pg_prepared_statements")[0].decode("n", as: Int.self) == 0)
        #expect(ConnectionConfiguration("x", preparesStatements: nil).preparesStatements
            == (ProcessInfo.processInfo.environment[ConnectionConfiguration.preparedStatementsVariable]?.lowercased() != "off"))
    }

    @Test func theEnvironmentSwitchIsOnOrOffAndNothingElse() throws {
        let name = ConnectionConfiguration.preparedStatementsVariable
        for on in [nil, "", "on", "ON", " true ", "yes", "1"] as [String?] {
            #expect(try ConnectionConfiguration.preparesStatements(environment: on.map { [name: $0] } ?? [:]), "\(String(describing: on))")
        }
        for off in ["off", "Off", "false", "no", "0"] {
            #expect(try !ConnectionConfiguration.preparesStatements(environment: [name: off]), "\(off)")
        }
        for bad in ["of", "disabled", "2", "off; DROP TABLE t"] {
            let error = try #require(throws: ConnectionConfigurationError.self) {
                try ConnectionConfiguration.preparesStatements(environment: [name: bad])
            }
            #expect(error.description == "\(name) must be on or off (it is \"\(bad)\")")
        }
    }

    @Test func onlyDataStatementsAreKept() {
        for sql in ["SELECT 1", "  select 1", "\n-- comment\nINSERT INTO t VALUES (1)", "/* c */ UPDATE t SET a = 1",
                    "DELETE FROM t", "WITH x AS (SELECT 1) SELECT * FROM x", "VALUES (1)"] {
            #expect(Connection.isDataStatement(sql), "\(sql)")
        }
        for sql in ["BEGIN", "COMMIT", "SET x = 1", "VACUUM t", "LISTEN c", "CREATE TABLE t (a int)", "-- only a comment", "",
                    "/* unterminated SELECT", "SELECTED"] {
            #expect(!Connection.isDataStatement(sql), "\(sql)")
        }
    }
}
