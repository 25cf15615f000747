import CertbusTesting
import Foundation
import Postgres
import Testing

/// Errors, transactions, connection failures (fresh test database each).
@Suite struct ConnectionTests {
    @Test func uniqueViolationCarriesSQLStateAndConstraint() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("CREATE TABLE people (email text CONSTRAINT people_email_unique UNIQUE)")
        try c.execute("INSERT INTO people VALUES ($1)", ["a@example.com"])
        let error = try #require(throws: PostgresError.self) {
            try c.execute("INSERT INTO people VALUES ($1)", ["a@example.com"])
        }
        #expect(error.kind == .server)
        #expect(error.sqlState == "23505")
        #expect(error.isUniqueViolation)
        #expect(error.constraint == "people_email_unique")
        #expect(error.table == "people")
        #expect(error.detail?.contains("a@example.com") == true)
        #expect(error.query?.contains("INSERT INTO people") == true)
        #expect(error.description.contains("23505"))
    }

    @Test func noticesReachTheHandlerAndSurviveReconnect() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        let received = NoticeLog()
        try c.execute("DO $$ BEGIN RAISE NOTICE 'dropped: nobody listens'; END $$")
        c.onNotice = { received.append($0) }
        try c.execute("DO $$ BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END $$")
        try c.reconnect()
        try c.execute("DO $$ BEGIN RAISE NOTICE 'after reconnect'; END $$")
        c.onNotice = nil
        try c.execute("DO $$ BEGIN RAISE NOTICE 'dropped again'; END $$")
        #expect(received.messages == ["NOTICE:  hello 42", "WARNING:  careful", "NOTICE:  after reconnect"])
    }

    @Test func transactionRollsBackOnThrow() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("CREATE TABLE items (n int)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try c.withTransaction { tx in
                try tx.execute("INSERT INTO items VALUES (1)")
                throw Boom()
            }
        }
        #expect(try c.query("SELECT count(*) AS n FROM items")[0].decode("n", as: Int.self) == 0)
        #expect(!c.isInTransaction)
        try c.withTransaction { tx in try tx.execute("INSERT INTO items VALUES (2)") }
        #expect(try c.query("SELECT count(*) AS n FROM items")[0].decode("n", as: Int.self) == 1)
    }

    @Test func transactionRetriesSerializationFailures() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("CREATE TABLE attempts (n int)")
        var calls = 0
        try c.withTransaction { tx in
            calls += 1
            try tx.execute("INSERT INTO attempts VALUES ($1)", [calls])
            if calls < 3 {
                try tx.execute("DO $$ BEGIN RAISE EXCEPTION 'simulated conflict' USING ERRCODE = '40001'; END $$")
            }
        }
        #expect(calls == 3)
        // Only the successful attempt's row survived.
        #expect(try c.query("SELECT array_agg(n) AS a FROM attempts")[0].decode("a", as: [Int].self) == [3])
        // The bound holds: a conflict that never clears ends with the error.
        var bounded = 0
        let error = try #require(throws: PostgresError.self) {
            try c.withTransaction(maxAttempts: 2) { tx in
                bounded += 1
                try tx.execute("DO $$ BEGIN RAISE EXCEPTION 'always' USING ERRCODE = '40P01'; END $$")
            }
        }
        #expect(error.isTransient)
        #expect(bounded == 2)
    }

    @Test func caughtErrorInsideTransactionIsNotCommittedSilently() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("CREATE TABLE items (n int PRIMARY KEY)")
        let error = try #require(throws: PostgresError.self) {
            try c.withTransaction { tx in
                try tx.execute("INSERT INTO items VALUES (1)")
                _ = try? tx.execute("INSERT INTO items VALUES (1)")  // fails, error swallowed
            }
        }
        #expect(error.sqlState == "25P02")
        #expect(try c.query("SELECT count(*) AS n FROM items")[0].decode("n", as: Int.self) == 0)
    }

    @Test func savepointKeepsOuterTransaction() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("CREATE TABLE items (n int PRIMARY KEY)")
        try c.withTransaction { tx in
            try tx.execute("INSERT INTO items VALUES (1)")
            _ = try? tx.withTransaction { inner in try inner.execute("INSERT INTO items VALUES (1)") }
            try tx.execute("INSERT INTO items VALUES (2)")
        }
        #expect(try c.query("SELECT count(*) AS n FROM items")[0].decode("n", as: Int.self) == 2)
    }

    @Test func refusedConnectionIsClearAndHidesPassword() throws {
        let error = try #require(throws: PostgresError.self) {
            try Connection.connect("postgresql://bob:s3cret@127.0.0.1:1/certbus?connect_timeout=3")
        }
        #expect(error.kind == .connection)
        #expect(error.description.contains("refused"))
        #expect(!error.description.contains("s3cret"))
        #expect(error.description.contains("***"))
    }

    @Test func unknownRoleIsClear() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let error = try #require(throws: PostgresError.self) {
            try Connection.connect(db.connectionString + " user=nobody_here password=hunter2")
        }
        #expect(error.kind == .connection)
        #expect(error.description.contains("nobody_here"))
        #expect(!error.description.contains("hunter2"))
    }

    @Test func applicationNameIsSet() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let c = try db.connect(applicationName: "certbus-worker")
        #expect(try c.query("SELECT current_setting('application_name') AS a")[0].decode("a", as: String.self) == "certbus-worker")
        #expect(try c.query("SELECT current_setting('TimeZone') AS z")[0].decode("z", as: String.self) == "UTC")
    }

    @Test func terminatedBackendIsReportedAndReconnectWorks() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let victim = try db.connect()
        let admin = try db.connect()
        try admin.execute("SELECT pg_terminate_backend($1)", [victim.backendPID])
        let error = try #require(throws: PostgresError.self) { try victim.query("SELECT 1") }
        #expect(error.isConnectionLost)
        try victim.reconnect()
        #expect(try victim.query("SELECT 1 AS one")[0].decode("one", as: Int.self) == 1)
    }
}

/// Notices collected from a connection's handler.
private final class NoticeLog: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []
    func append(_ message: String) { lock.withLock { stored.append(message) } }
    var messages: [String] { lock.withLock { stored } }
}
