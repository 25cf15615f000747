import CertbusBus
import CertbusCore
import CertbusDatabase
import CertbusTesting
import EmbeddedPostgres
import Foundation
import Postgres
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// `certbus worker` processes against a real database: exactly-once draining, SIGKILL rescue,
/// a PostgreSQL restart, graceful and forced shutdown.
@Suite(.serialized) struct MultiProcessTests {
    func workerSessions(_ c: Connection, database: String) throws -> Int {
        try c.value(
            "SELECT count(*) AS v FROM pg_stat_activity WHERE datname = $1 AND application_name = 'certbus-worker'", [database],
            as: Int.self)
    }

    @Test func threeWorkerProcessesRunEveryJobExactlyOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let workers = try (0..<3).map { _ in try ChildProcess.worker(url: db.connectionString, concurrency: 8) }
        defer { workers.forEach { $0.terminate() } }
        // Each worker listens and has claimed once (finding nothing) before the jobs arrive.
        #expect(try eventually { try workerSessions(c, database: db.name) >= 6 }, "\(workers.map(\.log))")
        let count = 3000
        _ = try JobQueue.enqueue(on: c, batch: (0..<count).map { _ in NewJob(kind: .noop, payloadJSON: #"{"record": "run"}"#) })
        #expect(try eventually(timeout: 90) { try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'SUCCESS'", as: Int.self) == count })
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(exited(worker.wait(timeout: 30), with: 0), "\(worker.log)") }
        // Every job ran exactly once: one handler execution each, one attempt each, nothing left behind.
        #expect(try c.value("SELECT count(*) AS v FROM certbus.noop_runs", as: Int.self) == count)
        #expect(try c.value("SELECT count(DISTINCT job_id) AS v FROM certbus.noop_runs", as: Int.self) == count)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.job_attempts WHERE outcome = 'SUCCESS' AND attempt = 1", as: Int.self) == count)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status <> 'SUCCESS' OR attempt <> 1", as: Int.self) == 0)
        #expect(try c.value("SELECT count(DISTINCT worker_id) AS v FROM certbus.job_attempts", as: Int.self) == 3, "all three processes took part")
    }

    @Test func sigkilledWorkersJobIsRescuedAndCompletesOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try JobQueue.enqueue(on: c, NewJob(kind: .noop, payloadJSON: #"{"sleep_ms": 4000, "record": "commit"}"#))
        let doomed = try ChildProcess.worker(url: db.connectionString, concurrency: 1, lease: 1)
        defer { doomed.terminate() }
        #expect(try eventually { try c.status(id) == "RUNNING" }, "\(doomed.log)")
        let holder = try c.value("SELECT locked_by AS v FROM certbus.jobs WHERE id = $1", [id], as: String.self)
        #expect(holder.contains(":\(doomed.pid):"))
        doomed.signal(SIGKILL)
        #expect(doomed.wait(timeout: 10) != nil)
        let rescuer = try ChildProcess.worker(url: db.connectionString, concurrency: 1, lease: 1)
        defer { rescuer.terminate() }
        #expect(try eventually(timeout: 60) { try c.status(id) == "SUCCESS" }, "\(rescuer.log)")
        rescuer.signal(SIGTERM)
        #expect(exited(rescuer.wait(timeout: 30), with: 0))
        #expect(try c.outcomes(id) == ["LEASE_EXPIRED", "SUCCESS"])
        #expect(try c.value("SELECT count(*) AS v FROM certbus.noop_runs WHERE job_id = $1 AND phase = 'commit'", [id], as: Int.self) == 1)
        let record = try #require(try JobQueue.job(on: c, id: id))
        #expect(record.attempt == 2)
        #expect(record.lockedBy == nil)
    }

    @Test func workersSurviveAPostgresRestart() throws {
        let (cluster, directory) = try TestCluster.makePrivate()
        defer {
            try? cluster.stop()
            try? FileManager.default.removeItem(atPath: directory)
        }
        let admin = try Connection.connect(cluster.connectionString(database: "postgres"))
        try admin.execute("CREATE DATABASE certbus")
        admin.close()
        let url = cluster.connectionString(database: "certbus")
        var c = try Connection.connect(url)
        try Migrator.located().migrate(c)
        // The safety poll is off (10 minutes): after the restart only a re-established LISTEN wakes them.
        let workers = try (0..<2).map { _ in try ChildProcess.worker(url: url, concurrency: 4, lease: 5, poll: 600) }
        defer { workers.forEach { $0.terminate() } }
        #expect(try eventually { try workerSessions(c, database: "certbus") >= 4 })
        let count = 1200
        _ = try JobQueue.enqueue(on: c, batch: (0..<count).map { _ in NewJob(kind: .noop, payloadJSON: #"{"sleep_ms": 10}"#) })
        #expect(try eventually { try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'SUCCESS'", as: Int.self) >= 100 })
        try cluster.stop()
        _ = try cluster.start(timeout: 60)
        c = try Connection.connect(url)
        #expect(try eventually(timeout: 90) {
            try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'SUCCESS'", as: Int.self) == count
        }, "\(workers.map(\.log))")
        // New jobs after the restart reach the workers through NOTIFY again.
        let later = try JobQueue.enqueue(on: c, batch: (0..<50).map { _ in NewJob(kind: .noop) }).compactMap { $0 }
        #expect(try eventually(timeout: 30) {
            try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE id = ANY($1::bigint[]) AND status = 'SUCCESS'", [later], as: Int.self) == 50
        })
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers { #expect(exited(worker.wait(timeout: 30), with: 0), "\(worker.log)") }
        #expect(try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status <> 'SUCCESS'", as: Int.self) == 0)
        #expect(workers.contains { $0.log.contains("listening again after a reconnect") })
    }

    @Test func sigtermHandsBackAndASecondSignalExitsAtOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let ids = try JobQueue.enqueue(on: c, batch: (0..<2).map { _ in NewJob(kind: .noop, payloadJSON: #"{"sleep_ms": 60000}"#) })
            .compactMap { $0 }
        let polite = try ChildProcess.worker(url: db.connectionString, concurrency: 2, grace: 0.5)
        defer { polite.terminate() }
        #expect(try eventually { try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'RUNNING'", as: Int.self) == 2 })
        polite.signal(SIGTERM)
        #expect(exited(polite.wait(timeout: 30), with: 0), "\(polite.log)")
        for id in ids {
            #expect(try c.status(id) == "QUEUED")
            #expect(try JobQueue.job(on: c, id: id)?.attempt == 0, "handed back without counting the attempt")
        }
        // With a long grace period, a second signal does not wait for it.
        let impatient = try ChildProcess.worker(url: db.connectionString, concurrency: 2, grace: 600)
        defer { impatient.terminate() }
        #expect(try eventually { try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'RUNNING'", as: Int.self) == 2 })
        impatient.signal(SIGTERM)
        Thread.sleep(forTimeInterval: 0.3)
        impatient.signal(SIGTERM)
        #expect(exited(impatient.wait(timeout: 10), with: 128 + SIGTERM), "\(impatient.log)")
    }
}
