import CertbusTesting
import Foundation
import Postgres
import Testing

/// Pool limits and reconnects, LISTEN/NOTIFY across connections (fresh test database each).
@Suite struct PoolAndNotificationTests {
    @Test func exhaustedPoolTimesOutWithClearError() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let pool = ConnectionPool(configuration: db.configuration(), maximumConnections: 2, acquireTimeout: 0.3)
        defer { pool.close() }
        let a = try pool.acquire()
        let b = try pool.acquire()
        let error = try #require(throws: PostgresError.self) { try pool.acquire() }
        #expect(error.kind == .poolTimeout)
        #expect(error.message.contains("2"))
        pool.release(a)
        let c = try pool.acquire()  // freed slot is reusable
        pool.release(b)
        pool.release(c)
        #expect(pool.openConnections == 2)
    }

    @Test func poolDropsBrokenConnections() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let pool = ConnectionPool(configuration: db.configuration(), maximumConnections: 1)
        defer { pool.close() }
        let pid = try pool.withConnection { $0.backendPID }
        let admin = try db.connect()
        try admin.execute("SELECT pg_terminate_backend($1)", [pid])
        // The first borrower finds the broken connection; the pool replaces it.
        _ = try? pool.withConnection { try $0.query("SELECT 1") }
        let value = try pool.withConnection { try $0.query("SELECT 2 AS two")[0].decode("two", as: Int.self) }
        #expect(value == 2)
    }

    @Test func asyncPoolRunsOffTheCooperativePool() async throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let pool = ConnectionPool(configuration: db.configuration(), maximumConnections: 4)
        defer { pool.close() }
        // More concurrent sleeps than cooperative threads: they overlap only if
        // the blocking calls are not on the cooperative pool.
        let results = try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 0..<4 {
                group.addTask {
                    try await pool.withConnection { c in
                        try c.query("SELECT pg_sleep(0.2), $1::int AS i", [i])[0].decode("i", as: Int.self)
                    }
                }
            }
            var all: [Int] = []
            for try await value in group { all.append(value) }
            return all.sorted()
        }
        #expect(results == [0, 1, 2, 3])
    }

    @Test func notificationsCrossConnections() throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let listener = try db.connect()
        let sender = try db.connect()
        try listener.listen("certbus_test")
        try sender.withTransaction { tx in
            try tx.notify("certbus_test", payload: "42")
            // Not delivered before commit.
            #expect(try listener.waitForNotifications(timeout: 0.1).isEmpty)
        }
        let received = try listener.waitForNotifications(timeout: 5)
        #expect(received.map(\.payload) == ["42"])
        #expect(received.first?.channel == "certbus_test")
        #expect(received.first?.senderPID == sender.backendPID)
    }

    @Test func listenerStreamResumesAfterTermination() async throws {
        let db = try TestDatabase.create(migrated: false)
        defer { db.drop() }
        let stream = NotificationListener.stream(configuration: db.configuration(applicationName: "certbus-listener-test"), channels: ["certbus_jobs"])
        var iterator = stream.makeAsyncIterator()
        #expect(await iterator.next() == .listening(resumed: false))
        let admin = try db.connect()
        try admin.execute("SELECT pg_notify('certbus_jobs', 'first')")
        #expect(await iterator.next() == .notification(PostgresNotification(channel: "certbus_jobs", payload: "first", senderPID: admin.backendPID)))
        // Kill the listener's backend: it reconnects, re-LISTENs and says it may have missed notifications.
        try admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'certbus-listener-test'")
        var sawDisconnect = false
        var resumed = false
        while let event = await iterator.next() {
            if case .disconnected = event { sawDisconnect = true }
            if event == .listening(resumed: true) { resumed = true; break }
        }
        #expect(sawDisconnect)
        #expect(resumed)
        try admin.execute("SELECT pg_notify('certbus_jobs', 'second')")
        #expect(await iterator.next() == .notification(PostgresNotification(channel: "certbus_jobs", payload: "second", senderPID: admin.backendPID)))
    }
}
