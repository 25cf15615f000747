import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The outcome of running a program to completion.
struct ProgramResult: Sendable {
    /// The exit status (or 128 + signal number if it was killed by a signal).
    var status: Int32
    /// Standard output and standard error, interleaved as written.
    var output: String
    /// True if the program exited with status 0.
    var succeeded: Bool { status == 0 }
}

/// Runs external programs (initdb, pg_ctl, useradd) and captures their output.
///
/// Uses `posix_spawn` and `waitpid` directly rather than Foundation's
/// `Process`, whose exit monitoring depends on a run loop and was seen to
/// hang when several threads spawn at once. The output pipe is close-on-exec
/// in this process, so concurrently spawned programs (and the servers they
/// leave running) never inherit another call's pipe.
///
/// Programs get no open descriptor of this process beyond standard input, output and error
/// (`posix_spawn_file_actions_addclosefrom_np`, glibc 2.34+): otherwise the server that
/// `pg_ctl start` leaves running would hold, for its whole life, whatever the caller had open —
/// client sockets, log files, and the descriptor Foundation's `Process` watches to see a
/// process end, so a parent waiting for `certbus db start` to exit would wait forever.
///
/// Programs run with `/` as working directory (the service account may not be
/// able to enter the caller's), default signal dispositions (a caller that
/// ignores SIGINT/SIGTERM does not pass that on to the server), the caller's
/// environment minus the `PG*` variables that would redirect PostgreSQL tools,
/// and `LC_ALL=C` so messages are stable English text.
enum ProgramRunner {
    /// Serialises pipe creation and spawning, so that no program spawned here
    /// inherits a pipe created for another (`pipe2(O_CLOEXEC)` is not exported to Swift).
    private static let spawnLock = NSLock()

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34+; Debian 12 has 2.36), looked up at
    /// run time because Swift's Glibc module does not export it; nil where the C library lacks it.
    private static let addCloseFrom: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32).self)
    }()

    /// Runs `arguments[0]` (an absolute path) with the remaining arguments and waits for it.
    static func run(_ arguments: [String]) throws -> ProgramResult {
        precondition(!arguments.isEmpty, "ProgramRunner.run needs a program")
        // Start in "/" without posix_spawn_file_actions_addchdir_np (not exported to Swift).
        let program = ["/bin/sh", "-c", "cd / && exec \"$@\"", "certbus-spawn"] + arguments
        spawnLock.lock()
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            spawnLock.unlock()
            throw EmbeddedClusterError(what: "could not create a pipe: \(String(cString: strerror(errno)))")
        }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        _ = fcntl(readEnd, F_SETFD, FD_CLOEXEC)
        _ = fcntl(writeEnd, F_SETFD, FD_CLOEXEC)
        defer { close(readEnd) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 1)
        posix_spawn_file_actions_adddup2(&actions, writeEnd, 2)
        if let closeFrom = Self.addCloseFrom { _ = closeFrom(&actions, 3) }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2] {
            sigaddset(&defaults, signal)
        }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let environment = childEnvironment().map { "\($0.key)=\($0.value)" }
        var pid: pid_t = 0
        let spawnStatus = withCStrings(program) { argv in
            withCStrings(environment) { envp in
                posix_spawn(&pid, program[0], &actions, &attributes, argv, envp)
            }
        }
        close(writeEnd)
        spawnLock.unlock()
        guard spawnStatus == 0 else {
            throw EmbeddedClusterError(
                what: "could not run \(arguments[0]): \(String(cString: strerror(spawnStatus)))", command: arguments)
        }

        let output = readUntilExit(readEnd, pid: pid)
        return ProgramResult(status: output.status, output: String(decoding: output.bytes, as: UTF8.self))
    }

    /// Reads the pipe until EOF, or until the child has exited and the pipe is
    /// drained (a grandchild that kept the pipe open must not hang us), then reaps the child.
    private static func readUntilExit(_ fd: Int32, pid: pid_t) -> (bytes: [UInt8], status: Int32) {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var exitStatus: Int32? = nil
        while true {
            var pollFD = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pollFD, 1, exitStatus == nil ? 100 : 0)
            if ready > 0 {
                let count = read(fd, &buffer, buffer.count)
                if count > 0 {
                    bytes.append(contentsOf: buffer[0..<count])
                    continue
                }
                if count == 0 { break }  // EOF
                if errno == EINTR || errno == EAGAIN { continue }
                break
            }
            if ready < 0 && errno == EINTR { continue }
            if exitStatus != nil { break }  // exited and nothing left to read
            exitStatus = reap(pid, block: false)
        }
        return (bytes, exitStatus ?? reap(pid, block: true)!)
    }

    /// `waitpid` for `pid`; nil if it has not exited and `block` is false.
    private static func reap(_ pid: pid_t, block: Bool) -> Int32? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, block ? 0 : WNOHANG)
            if result == 0 { return nil }
            if result < 0 {
                if errno == EINTR { continue }
                return 255
            }
            break
        }
        let signal = status & 0x7f
        if signal == 0 { return (status >> 8) & 0xff }
        return 128 + signal
    }

    /// Calls `body` with a NULL-terminated C array of the strings.
    private static func withCStrings<R>(
        _ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
    ) -> R {
        let pointers = strings.map { strdup($0) } + [nil]
        defer { pointers.forEach { free($0) } }
        return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    /// The environment for child programs.
    static func childEnvironment(_ base: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var environment = base.filter { key, _ in
            !["PGDATA", "PGHOST", "PGHOSTADDR", "PGPORT", "PGUSER", "PGDATABASE", "PGOPTIONS", "PGSERVICE"]
                .contains(key)
        }
        environment["LC_ALL"] = "C"
        environment["LANG"] = "C"
        return environment
    }

    /// The first executable file named `name` in `PATH` (or in `extraDirectories`), if any.
    static func which(_ name: String, extraDirectories: [String] = []) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        let directories = path.split(separator: ":").map(String.init) + extraDirectories
        for directory in directories where !directory.isEmpty {
            let candidate = directory + "/" + name
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
