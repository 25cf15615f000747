import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A child process of a benchmark (a `certbus worker`, `pgbench`): spawned with
/// `posix_spawn`, output to a log file, default signal handling, reaped by pid.
final class BenchProcess: @unchecked Sendable {
    let pid: pid_t
    /// Where standard output (and standard error, unless `errorFile` is set) goes.
    let logFile: String
    /// Where standard error goes when it is kept apart from standard output.
    let errorFile: String?
    /// Whether the log files are deleted with this object (not when the caller named them).
    private let ownsLogs: Bool
    private var status: Int32?

    /// Starts `program` with `arguments`; `environment` entries are added to this process's
    /// environment. Output goes to `logFile` (kept), or to a temporary file deleted with this
    /// object; with `separateErrors`, standard error goes to a second file (`errorFile`).
    init(_ program: String, _ arguments: [String], environment extra: [String: String] = [:], logFile named: String? = nil,
         separateErrors: Bool = false) throws {
        ownsLogs = named == nil
        logFile = named ?? FileManager.default.temporaryDirectory.appendingPathComponent("certbus-bench-\(UUID().uuidString).log").path
        errorFile = separateErrors ? logFile + ".stderr" : nil
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        if let errorFile {
            posix_spawn_file_actions_addopen(&actions, 2, errorFile, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let argv = ([program] + arguments).map { strdup($0) }
        let envp = environment.map { strdup("\($0.key)=\($0.value)") }
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let rc = posix_spawn(&child, program, &actions, &attributes, argv + [nil], envp + [nil])
        guard rc == 0 else { throw BenchmarkError("could not start \(program): \(String(cString: strerror(rc)))") }
        pid = child
    }

    func signal(_ number: Int32) { _ = kill(pid, number) }

    /// Waits up to `timeout` seconds; the exit code (128+signal when killed), or nil if still running.
    @discardableResult
    func wait(timeout: Double) -> Int32? {
        if let status { return status }
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                let code = (raw & 0x7f) == 0 ? (raw >> 8) & 0xff : 128 + (raw & 0x7f)
                status = code
                return code
            }
            Thread.sleep(forTimeInterval: 0.02)
        } while Date() < deadline
        return nil
    }

    /// Stops the process (SIGTERM, then SIGKILL after `grace` seconds) and reaps it.
    func stop(grace: Double = 10) {
        guard wait(timeout: 0) == nil else { return }
        signal(SIGTERM)
        if wait(timeout: grace) == nil {
            signal(SIGKILL)
            wait(timeout: 10)
        }
    }

    /// Peak resident set size in bytes (VmHWM), while the process runs.
    var peakResidentBytes: Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let digits = line.split(separator: " ").compactMap { Int($0) }
            if let kb = digits.first { return kb * 1024 }
        }
        return nil
    }

    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// What went to standard error when it was kept apart (else it is in `log`).
    var errors: String { errorFile.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "" }

    deinit {
        stop(grace: 2)
        if ownsLogs {
            try? FileManager.default.removeItem(atPath: logFile)
            if let errorFile { try? FileManager.default.removeItem(atPath: errorFile) }
        }
    }
}

extension BenchProcess {
    /// Runs `program` to completion and returns its output.
    static func output(_ program: String, _ arguments: [String]) throws -> String {
        let process = try BenchProcess(program, arguments)
        guard process.wait(timeout: 30) == 0 else { throw BenchmarkError("\(program) failed: \(process.log)") }
        return process.log
    }
}
