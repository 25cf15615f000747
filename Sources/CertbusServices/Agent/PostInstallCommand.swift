import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The operator's command an agent runs after installing a certificate (e.g. `systemctl reload nginx`),
/// run by `/bin/sh -c` in its own process group with a timeout. It is configured on the agent's host
/// (`certbus agent --post-install CMD`), never taken from the database, so a database writer cannot
/// make agents run commands.
public struct PostInstallCommand: Sendable, Equatable {
    /// The shell command line.
    public var command: String
    /// Seconds before the whole process group is killed.
    public var timeout: Double

    public init(command: String, timeout: Double = 60) {
        self.command = command
        self.timeout = timeout
    }

    /// How a run ended.
    public struct Outcome: Sendable, Equatable {
        /// Exit status, or nil when killed by a signal or the timeout.
        public var exitStatus: Int32?
        /// True when the timeout killed it.
        public var timedOut: Bool
        /// The first 4 KiB of stdout and stderr together.
        public var output: String

        /// True for exit status 0 within the timeout.
        public var succeeded: Bool { exitStatus == 0 && !timedOut }
    }

    /// Runs the command with `environment` added to the agent's own, waits at most `timeout` seconds,
    /// and returns how it ended. Throws `AgentFileError` only when the process cannot be started.
    public func run(environment: [String: String] = [:]) throws(AgentFileError) -> Outcome {
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw AgentFileError(path: "/bin/sh", operation: "create a pipe for", errno: errno) }
        let (readEnd, writeEnd) = (pipeEnds[0], pipeEnds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        posix_spawn_file_actions_addclose(&actions, writeEnd)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Own process group (so the timeout kills the whole tree), no inherited blocked signals.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        posix_spawnattr_setpgroup(&attributes, 0)
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGPIPE, SIGTERM, SIGINT, SIGHUP] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)

        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        let arguments = ["/bin/sh", "-c", command]
        let environmentLines = merged.map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let spawned = withCStrings(arguments) { argv in
            withCStrings(environmentLines) { envp in posix_spawn(&pid, "/bin/sh", &actions, &attributes, argv, envp) }
        }
        close(writeEnd)
        guard spawned == 0 else {
            close(readEnd)
            throw AgentFileError(path: "/bin/sh", operation: "start", errno: spawned)
        }

        let deadline = Date().addingTimeInterval(timeout)
        var output = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        var timedOut = false
        var descriptor = pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 {
                timedOut = true
                break
            }
            let ready = poll(&descriptor, 1, Int32(min(remaining, 1) * 1000) + 1)
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let n = read(readEnd, &buffer, buffer.count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }  // every writer closed: the command (and its children) are done with output
            if output.count < 4096 { output.append(contentsOf: buffer[0..<min(n, 4096 - output.count)]) }
        }
        close(readEnd)
        if timedOut { kill(-pid, SIGKILL) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        if !timedOut {
            // Children that outlived the shell but closed the pipe are killed with the group.
            kill(-pid, SIGKILL)
        }
        let exited = (status & 0x7f) == 0
        return Outcome(
            exitStatus: exited && !timedOut ? (status >> 8) & 0xff : nil, timedOut: timedOut,
            output: String(decoding: output, as: UTF8.self))
    }
}

/// Calls `body` with a NULL-terminated C array of `strings`.
private func withCStrings<R>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> R) -> R {
    var pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
