import Foundation

/// A run of the `certbus` executable built with the tests (`TestCluster.certbusExecutable`),
/// for end-to-end tests of the command line.
///
/// The initializers start the command and return at once, so a test can act while it runs
/// (`alerts watch`, `worker`); `finish(timeout:)` waits for it and returns its exit status and
/// everything it wrote to standard output and error. Both streams are read by threads of their
/// own, so a command printing more than a pipe holds never blocks. Standard input is empty.
/// `run(...)` starts and finishes in one call.
public final class CertbusCommand: @unchecked Sendable {
    /// The `CERTBUS_USER` the database variants set unless the caller's `environment` names one.
    public static let testUser = "cli-tester"

    private let process: CapturedProcess

    /// Starts `certbus arguments…` with this test process's environment plus `environment`
    /// (which wins where both name a variable).
    public init(_ arguments: [String], environment: [String: String] = [:]) throws {
        process = try CapturedProcess(
            executable: TestCluster.certbusExecutable, arguments: arguments, environment: environment)
    }

    /// Starts `certbus arguments… --database-url databaseURL` as `CERTBUS_USER=cli-tester`
    /// (unless `environment` sets `CERTBUS_USER`), with `environment` added.
    public convenience init(_ arguments: [String], databaseURL: String, environment: [String: String] = [:]) throws {
        try self.init(
            arguments + ["--database-url", databaseURL],
            environment: ["CERTBUS_USER": Self.testUser].merging(environment) { $1 })
    }

    /// Starts `certbus arguments…` against `database`, as `init(_:databaseURL:environment:)` does.
    public convenience init(_ arguments: [String], database: TestDatabase, environment: [String: String] = [:]) throws {
        try self.init(arguments, databaseURL: database.connectionString, environment: environment)
    }

    /// The running command's process id.
    public var processIdentifier: Int32 { process.processIdentifier }

    /// Kills the command now (SIGKILL) if it still runs; `finish` then reports the signal.
    public func kill() { process.kill() }

    /// Waits until the command exits and its output ends, and returns what it did. After
    /// `timeout` seconds it is killed (SIGKILL) and the result says so (`status` 9); nil waits as
    /// long as it takes. Call once.
    public func finish(timeout: Double? = nil) -> CommandResult { process.finish(timeout: timeout) }

    /// Runs `certbus arguments…` to the end (see `init(_:environment:)` and `finish(timeout:)`).
    public static func run(_ arguments: [String], environment: [String: String] = [:], timeout: Double? = nil)
        throws -> CommandResult
    {
        try CertbusCommand(arguments, environment: environment).finish(timeout: timeout)
    }

    /// Runs `certbus arguments…` against the database at `databaseURL` to the end (see
    /// `init(_:databaseURL:environment:)` and `finish(timeout:)`).
    public static func run(
        _ arguments: [String], databaseURL: String, environment: [String: String] = [:], timeout: Double? = nil
    ) throws -> CommandResult {
        try CertbusCommand(arguments, databaseURL: databaseURL, environment: environment).finish(timeout: timeout)
    }

    /// Runs `certbus arguments…` against `database` to the end (see `init(_:database:environment:)`
    /// and `finish(timeout:)`).
    public static func run(
        _ arguments: [String], database: TestDatabase, environment: [String: String] = [:], timeout: Double? = nil
    ) throws -> CommandResult {
        try CertbusCommand(arguments, database: database, environment: environment).finish(timeout: timeout)
    }
}
