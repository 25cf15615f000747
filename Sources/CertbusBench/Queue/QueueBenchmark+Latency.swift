import CertbusBus
import CertbusCore
import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// Enqueue-to-start latency at a steady rate into one idle worker.
extension QueueBenchmark {
    func measureLatency(url: String, c: Connection, into results: inout Results) throws {
        try reset(c)
        log("latency: \(Int(latencyRate)) jobs/s for \(Int(latencySeconds)) s into one idle worker process")
        let workers = try spawnWorkers(url: url, count: 1, concurrency: 8)
        defer { workers.forEach { $0.stop() } }
        // Wait until it listens and has looked once.
        let deadline = Date().addingTimeInterval(30)
        while try c.query(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'certbus-worker'"
        )[0].decode("n", as: Int.self) < 2 {
            guard Date() < deadline else { throw BenchmarkError("the worker did not start:\n\(workers[0].log)") }
            Thread.sleep(forTimeInterval: 0.05)
        }
        Thread.sleep(forTimeInterval: 0.5)
        let enqueuer = try Connection.connect(url, applicationName: "certbus-bench")
        defer { enqueuer.close() }
        let total = Int(latencyRate * latencySeconds)
        var committed: [Int64: Double] = [:]
        let start = DispatchTime.now()
        for i in 0..<total {
            let due = start.uptimeNanoseconds + UInt64(Double(i) / latencyRate * 1e9)
            let now = DispatchTime.now().uptimeNanoseconds
            if due > now { usleep(useconds_t((due - now) / 1000)) }
            let id = try JobQueue.enqueue(on: enqueuer, NewJob(kind: .noop, payloadJSON: #"{"record": "run"}"#))
            committed[id] = Date().timeIntervalSince1970
        }
        try waitUntilDrained(c, workers: workers, timeout: 120)
        results.latencyWorkerRSS = workers[0].peakResidentBytes ?? 0
        let rows = try c.query("SELECT job_id, extract(epoch FROM at)::float8 AS at FROM certbus.noop_runs WHERE phase = 'run'")
        var latencies: [Double] = []
        for row in rows {
            guard let sent = committed[try row.decode("job_id", as: Int64.self)] else { continue }
            latencies.append(try row.decode("at", as: Double.self) - sent)
        }
        results.latencies = latencies.sorted()
        results.latencyJobs = total
    }
}
