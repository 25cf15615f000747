import CertbusTesting
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A `certbus` child process for multi-process tests: spawned with `posix_spawn`
/// (standard output and error to a log file, default signal handling), signalled
/// and reaped by pid.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    let logFile: String
    private var exitStatus: Int32?

    /// Starts `certbus <arguments>`.
    init(certbus arguments: [String]) throws {
        let program = TestCluster.certbusExecutable.path
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw ChildProcessError(message: "\(program) is missing: run `swift build` first")
        }
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-child-\(UUID().uuidString).log").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
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
        let argv = ([program] + arguments).map { strdup($0) }
        defer { argv.forEach { free($0) } }
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("CERTBUS_") }.map { "\($0.key)=\($0.value)" }
        let envp = environment.map { strdup($0) }
        defer { envp.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, program, &actions, &attributes, argv + [nil], envp + [nil])
        guard status == 0 else { throw ChildProcessError(message: "posix_spawn failed: \(status)") }
        pid = child
    }

    /// Starts a worker on `url` with test timings.
    static func worker(
        url: String, concurrency: Int = 8, lease: Double = 2, poll: Double = 0.3, grace: Double = 5, extra: [String] = []
    ) throws -> ChildProcess {
        try ChildProcess(certbus: [
            "worker", "--database-url", url, "--concurrency", String(concurrency), "--lease", String(lease),
            "--poll-interval", String(poll), "--rescue-interval", "0.3", "--grace", String(grace),
        ] + extra)
    }

    /// Runs `certbus <arguments>` to completion and returns its exit code and output (stdout and stderr).
    static func run(_ arguments: [String], timeout: Double = 60) throws -> (status: Int32, output: String) {
        let child = try ChildProcess(certbus: arguments)
        guard let status = child.wait(timeout: timeout) else {
            throw ChildProcessError(message: "certbus \(arguments.joined(separator: " ")) did not finish in \(timeout)s")
        }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, child.log)
    }

    func signal(_ number: Int32) { _ = kill(pid, number) }

    /// Waits for the process to exit; returns its wait status, or nil after `timeout` seconds.
    @discardableResult
    func wait(timeout: Double) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = Date().addingTimeInterval(timeout)
        repeat {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                exitStatus = status
                return status
            }
            if r < 0 { return nil }
            Thread.sleep(forTimeInterval: 0.02)
        } while Date() < deadline
        return nil
    }

    /// Kills the process if it is still running and reaps it.
    func terminate() {
        if wait(timeout: 0) == nil {
            signal(SIGKILL)
            wait(timeout: 10)
        }
    }

    /// What the process wrote so far.
    var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    deinit {
        terminate()
        try? FileManager.default.removeItem(atPath: logFile)
    }
}

struct ChildProcessError: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}

/// True when the wait status says the process exited normally with `code`.
func exited(_ status: Int32?, with code: Int32) -> Bool {
    guard let status else { return false }
    return (status & 0x7f) == 0 && ((status >> 8) & 0xff) == code
}
