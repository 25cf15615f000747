import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Helpers shared by the pebble and challtestsrv test processes.
enum PebbleProcessSupport {
    /// A loopback TCP port that was free a moment ago and on which nothing listens now.
    static func freeLoopbackPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether a TCP connection to 127.0.0.1:`port` is accepted right now.
    static func accepts(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }

    struct StartFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts `executable` with `arguments` and `environment` additions, waits until its output
    /// contains `readyLine` and every port in `ports` accepts connections, then keeps draining
    /// its output. Throws with the output so far when it exits or does not come up in 20 s.
    static func start(
        executable: String, arguments: [String], environment: [String: String] = [:], readyLine: String,
        ports: [Int], installHint: String
    ) throws -> (Process, OutputBuffer) {
        guard FileManager.default.isExecutableFile(atPath: executable) else {
            throw StartFailure(description: "\(executable) is not installed: run `\(installHint)` (scripts/bootstrap does it in CI)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let seen = OutputBuffer()
        let ready = DispatchSemaphore(value: 0)
        output.fileHandleForReading.readabilityHandler = { handle in
            let chunk = handle.availableData
            if seen.append(chunk, lookingFor: readyLine) || chunk.isEmpty { ready.signal() }
            if chunk.isEmpty { handle.readabilityHandler = nil }
        }
        let name = URL(fileURLWithPath: executable).lastPathComponent
        guard ready.wait(timeout: .now() + 20) == .success, process.isRunning, seen.sawReadyLine else {
            kill(process)
            throw StartFailure(description: "\(name) did not start: \(seen.text)")
        }
        // pebble logs its URLs just before it binds: wait until the ports accept.
        let deadline = Date(timeIntervalSinceNow: 20)
        for port in ports {
            while !accepts(port: port) {
                guard Date() < deadline, process.isRunning else {
                    kill(process)
                    throw StartFailure(description: "\(name) never accepted connections on port \(port): \(seen.text)")
                }
                Thread.sleep(forTimeInterval: 0.02)
            }
        }
        return (process, seen)
    }

    /// SIGKILL and wait: processes spawned from test threads inherit a signal mask that blocks
    /// SIGTERM, so `Process.terminate()` would be ignored.
    static func kill(_ process: Process) {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// Collected process output, thread-safe.
    final class OutputBuffer: @unchecked Sendable {
        private let lock = NSLock()
        private var data = Data()
        private var found = false

        /// Appends (keeping the last 64 KiB) and returns true the first time `line` appears.
        func append(_ chunk: Data, lookingFor line: String) -> Bool {
            lock.withLock {
                data.append(chunk)
                if data.count > 1 << 16 { data.removeFirst(data.count - (1 << 16)) }
                guard !found else { return false }
                if String(decoding: data, as: UTF8.self).contains(line) {
                    found = true
                    return true
                }
                return false
            }
        }

        var sawReadyLine: Bool { lock.withLock { found } }
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    }
}
