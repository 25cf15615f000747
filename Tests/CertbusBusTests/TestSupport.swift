import Foundation

/// A tiny lock-protected box for values shared with worker threads in tests.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
    var current: Value { withLock { $0 } }
}

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass; returns whether it held.
/// Used to wait for asynchronous effects, never to assert on how long they took.
func eventually(timeout: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

import CertbusBus
import CertbusCore
import CertbusTesting
import Postgres

/// A handler whose behaviour is a closure, for one test.
struct ClosureHandler: JobHandler {
    var kind: JobKind
    var maximumRunTime: Double = 300
    var body: @Sendable (Job, JobContext) throws -> JobCompletion
    func run(_ job: Job, context: JobContext) throws -> JobCompletion { try body(job, context) }
}

/// Worker options with short timings so tests finish quickly.
func testOptions(concurrency: Int = 4, lease: Double = 2, maintenance: Bool = true) -> WorkerOptions {
    var options = WorkerOptions()
    options.concurrency = concurrency
    options.leaseSeconds = lease
    options.pollInterval = 0.2
    options.backoff = Backoff(base: 0.05, maximum: 0.2, jitter: 0)
    options.runsMaintenance = maintenance
    options.rescueInterval = 0.2
    options.maintenanceLeadershipInterval = 0.1
    return options
}

/// Registers a test job kind with no payload rules.
func registerKind(_ c: Connection, _ kind: String, maxAttempts: Int = 3) throws {
    try c.execute(
        "INSERT INTO certbus.job_kinds (kind, description, default_max_attempts) VALUES ($1, 'test kind', $2)",
        [kind, maxAttempts])
}

extension Connection {
    /// `SELECT <expression> AS v` decoded as `T`, for short test checks.
    func value<T: PostgresDecodable>(_ sql: String, _ parameters: [any PostgresEncodable] = [], as type: T.Type = T.self) throws -> T {
        try query(sql, parameters)[0].decode("v", as: T.self)
    }

    func status(_ id: Int64) throws -> String {
        try value("SELECT status AS v FROM certbus.jobs WHERE id = $1", [id])
    }

    func outcomes(_ id: Int64) throws -> [String] {
        try query("SELECT outcome FROM certbus.job_attempts WHERE job_id = $1 ORDER BY attempt", [id]).map {
            try $0.decode("outcome", as: String.self)
        }
    }
}
