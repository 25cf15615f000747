import CertbusBus
import CertbusCore
import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// Enqueue rates, single and batched, and the cost of each NOTIFY design.
extension QueueBenchmark {
    /// `clients` threads each enqueueing single jobs in their own transactions; jobs per second.
    func concurrentSingle(url: String, clients: Int, total: Int, session: [String], notifier: JobNotifier?) throws -> Double {
        let perClient = total / clients
        let connections = try (0..<clients).map { _ in try Connection.connect(url, applicationName: "certbus-bench") }
        defer { connections.forEach { $0.close() } }
        for connection in connections { for statement in session { try connection.execute(statement) } }
        let failures = BenchLocked(0)
        let group = DispatchGroup()
        let start = DispatchTime.now()
        // One OS thread per client (concurrentPerform would run only as many as there are cores).
        for connection in connections {
            group.enter()
            let thread = Thread {
                for _ in 0..<perClient {
                    do {
                        _ = try JobQueue.enqueue(on: connection, NewJob(kind: .noop))
                        notifier?.notify(queues: ["default"])
                    } catch {
                        failures.add()
                    }
                }
                group.leave()
            }
            thread.start()
        }
        group.wait()
        let seconds = BenchClock.seconds(since: start)
        guard failures.value == 0 else { throw BenchmarkError("\(failures.value) enqueues failed") }
        return Double(perClient * clients) / seconds
    }

    /// Batches of `batchSize` on one connection; jobs per second.
    func batched(url: String, total: Int, session: [String], notifier: JobNotifier?) throws -> Double {
        let connection = try Connection.connect(url, applicationName: "certbus-bench")
        defer { connection.close() }
        for statement in session { try connection.execute(statement) }
        let batch = (0..<batchSize).map { _ in NewJob(kind: .noop) }
        let start = DispatchTime.now()
        var done = 0
        while done < total {
            _ = try JobQueue.enqueue(on: connection, batch: batch)
            notifier?.notify(queues: ["default"])
            done += batch.count
        }
        return Double(done) / BenchClock.seconds(since: start)
    }

    func measureEnqueue(url: String, c: Connection, into results: inout Results) throws {
        let deferNotify = ["SET certbus.defer_job_notify = on"]
        // Warm-up (plans, caches).
        _ = try concurrentSingle(url: url, clients: 2, total: 400, session: [], notifier: nil)
        try reset(c)

        log("enqueue: single jobs, one connection, one transaction each")
        do {
            let connection = try Connection.connect(url, applicationName: "certbus-bench")
            defer { connection.close() }
            let n = max(200, enqueueJobs / 4)
            let start = DispatchTime.now()
            for _ in 0..<n { _ = try JobQueue.enqueue(on: connection, NewJob(kind: .noop)) }
            results.enqueue.append(("single, 1 connection (in-transaction NOTIFY)", Double(n) / BenchClock.seconds(since: start)))
        }
        try reset(c)

        log("enqueue: single jobs, \(enqueueClients) connections: in-transaction NOTIFY per statement")
        let perStatementSingle = try concurrentSingle(url: url, clients: enqueueClients, total: enqueueJobs, session: [], notifier: nil)
        try reset(c)
        log("enqueue: single jobs, \(enqueueClients) connections: NOTIFY deferred to a debounced notifier")
        let notifier = JobNotifier(configuration: ConnectionConfiguration(url, applicationName: "certbus-bench"))
        let debouncedSingle = try concurrentSingle(
            url: url, clients: enqueueClients, total: enqueueJobs, session: deferNotify, notifier: notifier)
        try reset(c)
        log("enqueue: single jobs, \(enqueueClients) connections: no NOTIFY at all (floor)")
        let silentSingle = try concurrentSingle(url: url, clients: enqueueClients, total: enqueueJobs, session: deferNotify, notifier: nil)
        try reset(c)

        log("enqueue: batches of \(batchSize), one NOTIFY per statement")
        let perStatementBatch = try batched(url: url, total: batchJobs, session: [], notifier: nil)
        try reset(c)
        log("enqueue: batches of \(batchSize), NOTIFY deferred to the debounced notifier")
        let debouncedBatch = try batched(url: url, total: batchJobs, session: deferNotify, notifier: notifier)
        try reset(c)
        log("enqueue: batches of \(batchSize), no NOTIFY (floor)")
        let silentBatch = try batched(url: url, total: batchJobs, session: deferNotify, notifier: nil)
        try reset(c)

        log("enqueue: the same with a NOTIFY per row (trigger swapped in the scratch database)")
        try c.execute(
            """
            CREATE FUNCTION public.bench_notify_row() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN PERFORM pg_notify('certbus_jobs', NEW.queue); RETURN NULL; END $$
            """)
        try c.execute("ALTER TABLE certbus.jobs DISABLE TRIGGER jobs_notify")
        try c.execute("CREATE TRIGGER bench_notify_row AFTER INSERT ON certbus.jobs FOR EACH ROW EXECUTE FUNCTION public.bench_notify_row()")
        let perRowSingle = try concurrentSingle(url: url, clients: enqueueClients, total: enqueueJobs, session: [], notifier: nil)
        try reset(c)
        let perRowBatch = try batched(url: url, total: batchJobs, session: [], notifier: nil)
        try reset(c)
        try c.execute("DROP TRIGGER bench_notify_row ON certbus.jobs")
        try c.execute("ALTER TABLE certbus.jobs ENABLE TRIGGER jobs_notify")
        notifier.close()

        results.enqueue.append(("single, \(enqueueClients) connections (NOTIFY deferred, debounced)", debouncedSingle))
        results.enqueue.append(("batched \(batchSize)/statement, 1 connection (one NOTIFY per statement)", perStatementBatch))
        results.notify = [
            ("one NOTIFY per row, in the transaction", perRowSingle, perRowBatch),
            ("one NOTIFY per statement, in the transaction", perStatementSingle, perStatementBatch),
            ("deferred, one debounced NOTIFY per process", debouncedSingle, debouncedBatch),
            ("no NOTIFY (floor: workers would only poll)", silentSingle, silentBatch),
        ]
    }
}
