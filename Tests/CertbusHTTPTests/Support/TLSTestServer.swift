import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `openssl s_server -www` on 127.0.0.1 with an ephemeral port, stopped at deinit.
final class TLSTestServer: @unchecked Sendable {
    private let process: Process
    /// The port s_server reported in its `ACCEPT 127.0.0.1:<port>` line.
    let port: Int

    struct StartFailure: Error, CustomStringConvertible {
        let output: String
        var description: String { "openssl s_server did not start: \(output)" }
    }

    /// Starts s_server with this certificate and key and waits until it accepts connections.
    init(certificate: String, key: String) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["s_server", "-accept", "127.0.0.1:0", "-cert", certificate, "-key", key, "-www"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        process.standardInput = Pipe()
        try process.run()
        var seen = Data()
        var found: Int?
        let handle = output.fileHandleForReading
        while found == nil {
            let chunk = handle.availableData
            if chunk.isEmpty { break }  // s_server exited
            seen.append(chunk)
            let text = String(decoding: seen, as: UTF8.self)
            if let range = text.range(of: "ACCEPT 127.0.0.1:") {
                let digits = text[range.upperBound...].prefix { $0.isNumber }
                if text[range.upperBound...].dropFirst(digits.count).first?.isNewline == true { found = Int(digits) }
            }
        }
        guard let found else {
            Self.kill(process)
            throw StartFailure(output: String(decoding: seen, as: UTF8.self))
        }
        port = found
        // Keep draining s_server's output so it never blocks on a full pipe.
        handle.readabilityHandler = { handle in _ = handle.availableData }
    }

    deinit { Self.kill(process) }

    /// SIGKILL, because processes spawned from test threads inherit a signal mask that
    /// blocks SIGTERM (so `Process.terminate()` would be ignored).
    private static func kill(_ process: Process) {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
