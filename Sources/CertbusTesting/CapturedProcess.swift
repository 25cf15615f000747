import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A started child process whose standard output and error are read into memory by threads of
/// their own, so that a child writing more than a pipe holds never blocks.
final class CapturedProcess: @unchecked Sendable {
    private let process = Process()
    private let exited = DispatchSemaphore(value: 0)
    private let output = StreamCollector()
    private let error = StreamCollector()

    /// Starts `executable` with `arguments`, this process's environment plus `environment`, and
    /// `input` (nothing when empty) on standard input; returns at once.
    init(executable: URL, arguments: [String], environment: [String: String] = [:], currentDirectory: URL? = nil,
         input: Data = Data()) throws {
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        if input.isEmpty {
            process.standardInput = FileHandle.nullDevice
        } else {
            // A file, not a pipe: a child that exits without reading cannot cost us a SIGPIPE.
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-stdin-\(UUID().uuidString)")
            try input.write(to: file)
            defer { try? FileManager.default.removeItem(at: file) }
            process.standardInput = try FileHandle(forReadingFrom: file)
        }
        let exited = self.exited
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        output.drain(out.fileHandleForReading)
        error.drain(err.fileHandleForReading)
    }

    /// The child's process id.
    var processIdentifier: Int32 { process.processIdentifier }

    /// Sends SIGKILL if the child still runs. SIGKILL because children started from test threads
    /// inherit a signal mask that blocks SIGTERM.
    func kill() {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
    }

    /// Waits for the child to exit (SIGKILL after `timeout` seconds; nil waits as long as it
    /// takes) and for its output to end; call once.
    func finish(timeout: Double? = nil) -> CommandResult {
        var killed = false
        if let timeout, exited.wait(timeout: .now() + timeout) == .timedOut {
            kill()
            killed = true
            exited.wait()
        } else if timeout == nil {
            exited.wait()
        }
        process.waitUntilExit()
        process.terminationHandler = nil
        // After a kill, a grandchild may still hold the pipes open: take what came until then.
        let grace: Double? = killed ? 5 : nil
        output.waitUntilClosed(timeout: grace)
        error.waitUntilClosed(timeout: grace)
        return CommandResult(status: process.terminationStatus, output: output.text, error: error.text)
    }
}

/// The bytes read from one pipe by a thread of its own until end of file.
private final class StreamCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private let closed = DispatchSemaphore(value: 0)

    func drain(_ handle: FileHandle) {
        Thread { [self] in
            while let chunk = try? handle.read(upToCount: 1 << 16), !chunk.isEmpty {
                lock.withLock { data.append(chunk) }
            }
            closed.signal()
        }.start()
    }

    func waitUntilClosed(timeout: Double?) {
        if let timeout {
            _ = closed.wait(timeout: .now() + timeout)
        } else {
            closed.wait()
        }
    }

    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
