import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The `certbus` processes of a soak run — workers and one scheduler — started from the
/// certbus executable against the soak's database, with the soak's private home (KEK, audit key)
/// and a log file each in the work directory.
final class SoakFleet: @unchecked Sendable {
    /// One process of the fleet.
    final class Member: @unchecked Sendable {
        /// "worker 1", "scheduler".
        let role: String
        let process: BenchProcess
        /// The highest VmHWM read while it ran, bytes.
        var peakRSS = 0
        /// True once the soak killed it on purpose.
        var killed = false
        /// Its exit status once stopped or killed.
        var exitStatus: Int32?

        init(role: String, process: BenchProcess) {
            self.role = role
            self.process = process
        }

        var isWorker: Bool { role.hasPrefix("worker") }
    }

    let executable: String
    let url: String
    let directory: String
    let environment: [String: String]
    let workerArguments: [String]
    private(set) var members: [Member] = []
    private var workersStarted = 0

    init(executable: String, url: String, directory: String, environment: [String: String], workerArguments: [String]) {
        self.executable = executable
        self.url = url
        self.directory = directory
        self.environment = environment
        self.workerArguments = workerArguments
    }

    /// Starts one more `certbus worker`.
    @discardableResult
    func startWorker() throws -> Member {
        workersStarted += 1
        return try start(role: "worker \(workersStarted)", ["worker", "--database-url", url] + workerArguments)
    }

    /// Starts `certbus scheduler` (periodic tasks, audit sealer, event dispatcher).
    @discardableResult
    func startScheduler() throws -> Member {
        try start(role: "scheduler", ["scheduler", "--database-url", url])
    }

    private func start(role: String, _ arguments: [String]) throws -> Member {
        let file = (directory as NSString).appendingPathComponent(role.replacingOccurrences(of: " ", with: "-") + ".log")
        let member = Member(role: role, process: try BenchProcess(executable, arguments, environment: environment, logFile: file))
        members.append(member)
        return member
    }

    /// Reads every live member's peak RSS (VmHWM is a high-water mark: the last reading before exit is its peak).
    func sampleMemory() {
        for member in members where member.exitStatus == nil {
            if let bytes = member.process.peakResidentBytes { member.peakRSS = max(member.peakRSS, bytes) }
        }
    }

    /// A member that exited although nobody stopped it, with its status and the end of its log.
    func unexpectedExit() -> String? {
        for member in members where !member.killed && member.exitStatus == nil {
            if let status = member.process.wait(timeout: 0) {
                member.exitStatus = status
                return "\(member.role) (pid \(member.process.pid)) exited with status \(status):\n" + Self.tail(member.process.log)
            }
        }
        return nil
    }

    /// SIGKILLs `member` and reaps it.
    func kill(_ member: Member) {
        sampleMemory()
        member.killed = true
        member.process.signal(SIGKILL)
        member.exitStatus = member.process.wait(timeout: 10)
    }

    /// The running workers, oldest first.
    var liveWorkers: [Member] { members.filter { $0.isWorker && $0.exitStatus == nil && !$0.killed } }

    /// Stops every member still running with SIGTERM (SIGKILL after `grace` + 10 seconds) and
    /// records each exit status.
    func stopAll(grace: Double) {
        sampleMemory()
        let running = members.filter { $0.exitStatus == nil }
        for member in running { member.process.signal(SIGTERM) }
        for member in running {
            member.exitStatus = member.process.wait(timeout: grace + 10)
            if member.exitStatus == nil {
                member.process.signal(SIGKILL)
                member.exitStatus = member.process.wait(timeout: 10)
            }
        }
    }

    /// The last lines of a log.
    static func tail(_ log: String, lines: Int = 15) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(lines).joined(separator: "\n")
    }
}
