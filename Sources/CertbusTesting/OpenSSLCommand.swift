import Foundation

/// The `openssl` command-line tool (`/usr/bin/openssl`): makes throwaway keys and certificates
/// and serves as an independent check of what certbus produces.
public enum OpenSSLCommand {
    /// Where the tool is expected.
    public static let path = "/usr/bin/openssl"

    /// openssl exited with a non-zero status; `description` names the call and what it printed.
    public struct Failure: Error, CustomStringConvertible {
        /// The arguments openssl was called with.
        public let arguments: [String]
        /// What it printed (standard output, then standard error).
        public let output: String
        /// `openssl <arguments> failed: <output>`.
        public var description: String { "openssl \(arguments.joined(separator: " ")) failed: \(output)" }
    }

    /// Runs `openssl arguments…` to the end in `directory` (the current one when nil), with
    /// `input` on standard input, and returns its status and output whatever the status; throws
    /// only when openssl cannot be started.
    public static func capture(_ arguments: [String], input: String = "", in directory: URL? = nil) throws -> CommandResult {
        try CapturedProcess(
            executable: URL(fileURLWithPath: path), arguments: arguments, currentDirectory: directory,
            input: Data(input.utf8)
        ).finish()
    }

    /// Runs `openssl arguments…` to the end and returns what it printed (standard output, then
    /// standard error); throws `Failure` when it exits with a non-zero status.
    @discardableResult
    public static func run(_ arguments: [String], in directory: URL? = nil) throws -> String {
        let result = try capture(arguments, in: directory)
        guard result.status == 0 else { throw Failure(arguments: arguments, output: result.combined) }
        return result.combined
    }
}
