import Foundation

/// Runs the `openssl` command-line tool, an independent implementation to check our output against.
enum OpenSSLTool {
    static let path = "/usr/bin/openssl"

    struct Result {
        let status: Int32
        let output: String
        let errorOutput: String
        var combined: String { output + errorOutput }
    }

    /// Runs `openssl arguments...` to completion, with `input` on stdin; a run longer than
    /// `timeout` is killed and reported with status -1.
    @discardableResult
    static func run(_ arguments: [String], input: Data = Data(), in directory: URL? = nil,
                    timeout: TimeInterval = 60) throws -> Result {
        let scratch = try ScratchDirectory()
        let outURL = scratch.url.appendingPathComponent("stdout")
        let errURL = scratch.url.appendingPathComponent("stderr")
        let inURL = scratch.url.appendingPathComponent("stdin")
        try input.write(to: inURL)
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        process.standardInput = try FileHandle(forReadingFrom: inURL)
        process.standardOutput = try FileHandle(forWritingTo: outURL)
        process.standardError = try FileHandle(forWritingTo: errURL)
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        if exited.wait(timeout: .now() + timeout) == .timedOut {
            // Our own child, by pid; SIGKILL because children spawned from dispatch threads
            // inherit a signal mask that blocks SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            exited.wait()
            process.terminationHandler = nil
            return Result(status: -1, output: "", errorOutput: "openssl \(arguments.first ?? "") timed out after \(Int(timeout)) s")
        }
        process.waitUntilExit()
        process.terminationHandler = nil // the handler otherwise keeps the Process alive
        return Result(
            status: process.terminationStatus,
            output: (try? readText(outURL.path)) ?? "",
            errorOutput: (try? readText(errURL.path)) ?? "")
    }
}

/// A fresh temporary directory, removed when the value is deinitialized.
final class ScratchDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("certbus-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    /// Writes `text` to `name` inside the directory and returns its path.
    @discardableResult
    func write(_ text: String, to name: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// Writes `data` to `name` inside the directory and returns its path.
    @discardableResult
    func write(_ data: Data, to name: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try data.write(to: file)
        return file.path
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// The UTF-8 text of the file at `path`. (Reads through FileHandle: String(contentsOf:) leaks
/// a buffer in this Foundation, which would muddy the leak checks of this module.)
func readText(_ path: String) throws -> String {
    let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
    defer { try? handle.close() }
    return String(decoding: try handle.readToEnd() ?? Data(), as: UTF8.self)
}
