import CertbusTesting
import Foundation

@testable import CertbusHTTP

#if canImport(Glibc)
import Glibc
#endif

/// Debian's `pebble` ACME test server on loopback with a TLS certificate from `TestCertificates`,
/// stopped (SIGKILL) at deinit.
final class PebbleProcess: @unchecked Sendable {
    static let executable = "/usr/bin/pebble"
    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    private let process = Process()
    /// The ACME API port (`listenAddress`).
    let port: Int
    /// The management API port (`managementListenAddress`: roots, intermediates).
    let managementPort: Int

    struct StartFailure: Error, CustomStringConvertible {
        let output: String
        var description: String { "pebble did not start: \(output)" }
    }

    /// Writes a config into `pki.directory` and starts pebble with no validation sleeps and no
    /// nonce rejection. `httpPort` is where its http-01 validator connects.
    init(pki: TestCertificates, httpPort: Int = 5002) throws {
        port = try LoopbackPort.unused()
        managementPort = try LoopbackPort.unused()
        let config = pki.directory.appendingPathComponent("pebble-config.json")
        let json = """
            {"pebble": {
              "listenAddress": "127.0.0.1:\(port)",
              "managementListenAddress": "127.0.0.1:\(managementPort)",
              "certificate": "\(pki.localhostCertificate)",
              "privateKey": "\(pki.localhostKey)",
              "httpPort": \(httpPort),
              "tlsPort": 5001,
              "ocspResponderURL": "",
              "externalAccountBindingRequired": false
            }}
            """
        try json.write(to: config, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["-config", config.path, "-strict=false"]
        var environment = ProcessInfo.processInfo.environment
        environment["PEBBLE_VA_NOSLEEP"] = "1"
        environment["PEBBLE_WFE_NONCEREJECT"] = "0"
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var seen = Data()
        let handle = output.fileHandleForReading
        while !String(decoding: seen, as: UTF8.self).contains("ACME directory available at") {
            let chunk = handle.availableData
            if chunk.isEmpty {
                Self.kill(process)
                throw StartFailure(output: String(decoding: seen, as: UTF8.self))
            }
            seen.append(chunk)
        }
        handle.readabilityHandler = { handle in _ = handle.availableData }
        // Pebble logs its URLs just before it binds: wait until both ports accept.
        for port in [port, managementPort] {
            let deadline = Date(timeIntervalSinceNow: 20)
            while true {
                if let fd = try? Socket.connect(host: "127.0.0.1", port: port, deadline: .after(.seconds(1))) {
                    Socket.closeDescriptor(fd)
                    break
                }
                guard Date() < deadline, process.isRunning else {
                    Self.kill(process)
                    throw StartFailure(output: "port \(port) never accepted connections")
                }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }
    }

    deinit { Self.kill(process) }

    /// SIGKILL: children spawned from test threads inherit a mask that blocks SIGTERM.
    private static func kill(_ process: Process) {
        if process.isRunning { _ = Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}
