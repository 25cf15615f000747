import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A long-running child process serving tests (pebble, `openssl s_server`, …), killed at deinit.
///
/// Its standard output and error go to one pipe that is drained for as long as it runs (the
/// last 64 KiB are kept, for diagnosing failures), so it never blocks on a full pipe. Standard
/// input is a pipe that stays open.
final class ServerProcess: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let buffer = OutputBuffer()
    private let name: String

    /// Starts `executable` with `arguments` and this process's environment plus `environment`,
    /// and waits until `ready` holds for its output so far. Throws `TestServerFailure` (with the
    /// output) when it exits or is not ready within `timeout` seconds, and, with an
    /// `installHint`, when the executable is missing.
    init(
        executable: String, arguments: [String], environment: [String: String] = [:], installHint: String? = nil,
        timeout: Double = 20, ready: @escaping @Sendable (String) -> Bool
    ) throws {
        name = URL(fileURLWithPath: executable).lastPathComponent
        if let installHint, !FileManager.default.isExecutableFile(atPath: executable) {
            throw TestServerFailure("\(executable) is not installed: run `\(installHint)` (scripts/bootstrap does it in CI)")
        }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = input
        try process.run()
        let buffer = self.buffer
        let sawReady = DispatchSemaphore(value: 0)
        output.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if buffer.append(chunk, becomingReady: ready) || chunk.isEmpty { sawReady.signal() }
            if chunk.isEmpty { handle.readabilityHandler = nil }
        }
        guard sawReady.wait(timeout: .now() + timeout) == .success, process.isRunning, buffer.isReady else {
            kill()
            throw TestServerFailure("\(name) did not start: \(buffer.text)")
        }
    }

    deinit { kill() }

    /// What the process printed so far (the last 64 KiB).
    var output: String { buffer.text }

    /// Waits until every port in `ports` on 127.0.0.1 accepts connections (for servers that log
    /// before they bind); kills the process and throws when one does not within `timeout` seconds
    /// or the process exits.
    func waitUntilAccepting(_ ports: [Int], timeout: Double = 20) throws {
        let deadline = Date(timeIntervalSinceNow: timeout)
        for port in ports {
            guard LoopbackPort.waitUntilAccepting(port, deadline: deadline, while: { process.isRunning }) else {
                kill()
                throw TestServerFailure("\(name) never accepted connections on port \(port): \(buffer.text)")
            }
        }
    }

    /// SIGKILL and wait, if it still runs: processes spawned from test threads inherit a signal
    /// mask that blocks SIGTERM, so `Process.terminate()` would be ignored.
    func kill() {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A process's output, thread-safe, keeping the last 64 KiB.
private final class OutputBuffer: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var ready = false

    /// Appends `chunk`; returns true the first time `isReady` holds for the text so far.
    func append(_ chunk: Data, becomingReady isReady: (String) -> Bool) -> Bool {
        lock.withLock {
            data.append(chunk)
            if data.count > 1 << 16 { data.removeFirst(data.count - (1 << 16)) }
            guard !ready, isReady(String(decoding: data, as: UTF8.self)) else { return false }
            ready = true
            return true
        }
    }

    var isReady: Bool { lock.withLock { ready } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
