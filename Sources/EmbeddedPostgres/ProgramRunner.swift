import Foundation

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
/// Programs run with `/` as working directory (the service account may not be
/// able to enter the caller's), the caller's environment minus the `PG*`
/// variables that would redirect PostgreSQL tools, and `LC_ALL=C` so messages
/// are stable English text.
enum ProgramRunner {
    /// Runs `arguments[0]` (an absolute path) with the remaining arguments and waits for it.
    static func run(_ arguments: [String]) throws -> ProgramResult {
        precondition(!arguments.isEmpty, "ProgramRunner.run needs a program")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: "/")
        process.environment = childEnvironment()
        // Output goes to a temporary file, not a pipe: `pg_ctl start` leaves a
        // long-lived server behind, and any inherited pipe descriptor would keep
        // a pipe reader waiting for end-of-file forever.
        let outputPath = FileManager.default.temporaryDirectory
            .appendingPathComponent("certbus-run-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).log").path
        guard FileManager.default.createFile(atPath: outputPath, contents: nil),
            let output = FileHandle(forWritingAtPath: outputPath)
        else {
            throw EmbeddedClusterError(what: "could not create a temporary file for the output of \(arguments[0])", command: arguments)
        }
        defer {
            try? output.close()
            try? FileManager.default.removeItem(atPath: outputPath)
        }
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw EmbeddedClusterError(
                what: "could not run \(arguments[0]): \(error.localizedDescription)", command: arguments)
        }
        process.waitUntilExit()
        let data = FileManager.default.contents(atPath: outputPath) ?? Data()
        let status =
            process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
        return ProgramResult(status: status, output: String(decoding: data, as: UTF8.self))
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
