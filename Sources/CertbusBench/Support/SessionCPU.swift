import Foundation
import Postgres

/// CPU time of this process plus the server sessions of the current database, for "CPU per item"
/// figures (steadier than wall time on a shared machine). Sessions that start after `start()`
/// count from zero; sessions that end before `stop()` are missed, so read it before stopping
/// whatever owns them. Nil wherever /proc cannot be read (a server on another machine).
public struct SessionCPU: Sendable {
    private var process: Double?
    private var backends: [Int32: Double]

    /// A snapshot taken now, through `c` (a session of the database to watch).
    public static func start(_ c: Connection) throws -> SessionCPU {
        SessionCPU(process: BenchClock.ownCPUSeconds(), backends: try Self.backends(c))
    }

    /// CPU seconds used since the snapshot by this process and the database's sessions.
    public func seconds(_ c: Connection) throws -> Double? {
        guard let then = process, let now = BenchClock.ownCPUSeconds() else { return nil }
        var total = now - then
        for (pid, seconds) in try Self.backends(c) { total += seconds - (backends[pid] ?? 0) }
        return total
    }

    private static func backends(_ c: Connection) throws -> [Int32: Double] {
        var result: [Int32: Double] = [:]
        for row in try c.query("SELECT pid FROM pg_stat_activity WHERE datname = current_database()") {
            let pid = try row.decode("pid", as: Int32.self)
            if let seconds = BenchClock.processCPUSeconds(pid) { result[pid] = seconds }
        }
        return result
    }
}
