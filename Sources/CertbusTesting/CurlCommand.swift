import Foundation

/// The `curl` command-line tool (`/usr/bin/curl`): an independent TLS client that checks what
/// certbus issues the way operators' scripts do.
public enum CurlCommand {
    /// Where the tool is expected.
    public static let path = "/usr/bin/curl"

    /// Runs `curl arguments…` to the end (killed after `timeout` seconds) and returns its status
    /// and output whatever the status; throws only when curl cannot be started.
    public static func capture(_ arguments: [String], timeout: Double = 60) throws -> CommandResult {
        try CapturedProcess(executable: URL(fileURLWithPath: path), arguments: arguments).finish(timeout: timeout)
    }
}
