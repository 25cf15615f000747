import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Wake-ups: one NOTIFY per statement and queue, deferral to the debounced notifier, workers woken without polling.
@Suite struct NotificationTests {
    func drain(_ listener: Connection, wait: Double = 0.5) throws -> [PostgresNotification] {
        var all: [PostgresNotification] = []
        let deadline = Date().addingTimeInterval(wait)
        while Date() < deadline {
            all += try listener.waitForNotifications(timeout: max(0.01, deadline.timeIntervalSinceNow))
        }
        return all
    }

    @Test func oneNotificationPerStatementAndQueue() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let listener = try db.connect()
        try listener.listen(JobQueue.channel)
        let c = try db.connect()
        let batch = (0..<100).map { NewJob(kind: .noop, queue: $0 % 2 == 0 ? "default" : "bulk") }
        _ = try JobQueue.enqueue(on: c, batch: batch)
        let received = try drain(listener)
        #expect(received.map(\.payload).sorted() == ["bulk", "default"])
        // A rolled-back enqueue announces nothing.
        _ = try? c.withTransaction { tx -> Void in
            _ = try JobQueue.enqueue(on: tx, NewJob(kind: .noop))
            throw JobQueueError(.invalidArgument, "roll back")
        }
        #expect(try drain(listener, wait: 0.3).isEmpty)
        // A transaction that defers the notification sends none itself.
        try c.withTransaction { tx in
            try tx.execute("SET LOCAL certbus.defer_job_notify = on")
            _ = try JobQueue.enqueue(on: tx, NewJob(kind: .noop))
        }
        #expect(try drain(listener, wait: 0.3).isEmpty)
    }

    @Test func notifierDebouncesBursts() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let listener = try db.connect()
        try listener.listen(JobQueue.channel)
        let notifier = JobNotifier(configuration: db.configuration(), interval: 0.2)
        defer { notifier.close() }
        for _ in 0..<200 { notifier.notify(queues: ["default"]) }
        let received = try drain(listener, wait: 1)
        #expect(!received.isEmpty)
        #expect(received.count <= 3, "a burst of 200 announcements within the interval yields a leading and a trailing notification")
        #expect(Set(received.map(\.payload)) == ["default"])
    }

    @Test func enqueuerWakesAnIdleWorkerWithoutPolling() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        var options = testOptions()
        options.pollInterval = 600
        let worker = try Worker(configuration: db.configuration(), handlers: HandlerRegistry([NoopHandler()]), options: options, log: .silent)
        try worker.start()
        defer { worker.stop(grace: 5) }
        Thread.sleep(forTimeInterval: 0.3)  // the worker's first look finds nothing; it now sleeps for 10 minutes
        let pool = db.pool()
        defer { pool.close() }
        let notifier = JobNotifier(configuration: db.configuration())
        defer { notifier.close() }
        let enqueuer = JobEnqueuer(pool: pool, notifier: notifier)
        let id = try enqueuer.enqueue(NewJob(kind: .noop))
        #expect(try eventually { try c.status(id) == "SUCCESS" })
        let ids = try enqueuer.enqueue(batch: (0..<20).map { _ in NewJob(kind: .noop) }).compactMap { $0 }
        #expect(try eventually {
            try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE id = ANY($1::bigint[]) AND status = 'SUCCESS'", [ids], as: Int.self) == 20
        })
    }
}
