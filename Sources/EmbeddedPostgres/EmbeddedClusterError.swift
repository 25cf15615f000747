import Foundation

/// A failure to create, start, stop or find an embedded cluster.
///
/// It says what failed, the command that was run (if any), that command's
/// output, and the tail of the server log, so the message alone is enough to
/// act on.
public struct EmbeddedClusterError: Error, CustomStringConvertible, Sendable {
    /// What failed, as one sentence ("initdb failed", "PostgreSQL server binaries not found").
    public var what: String
    /// The command line that was run, if the failure came from running one.
    public var command: [String]?
    /// The command's combined standard output and error (trimmed), if any.
    public var output: String
    /// The last lines of the server log (`<data dir>/log/server.log`), if it exists.
    public var logTail: String
    /// The data directory concerned.
    public var dataDirectory: String

    /// Builds an error; empty strings mean "not applicable".
    public init(
        what: String, command: [String]? = nil, output: String = "", logTail: String = "", dataDirectory: String = ""
    ) {
        self.what = what
        self.command = command
        self.output = output
        self.logTail = logTail
        self.dataDirectory = dataDirectory
    }

    /// A multi-line description: the failure, then the command, its output and the log tail.
    public var description: String {
        var lines = [what]
        if !dataDirectory.isEmpty { lines.append("data directory: \(dataDirectory)") }
        if let command { lines.append("command: \(command.map(shellQuoted).joined(separator: " "))") }
        let trimmedOutput = output.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmedOutput.isEmpty { lines.append("output:\n" + indented(trimmedOutput)) }
        let trimmedLog = logTail.trimmingCharacters(in: .whitespacesAndNewlines)
        if !trimmedLog.isEmpty { lines.append("server log (last lines):\n" + indented(trimmedLog)) }
        return lines.joined(separator: "\n")
    }
}

private func indented(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
}

/// Quotes a word for display in a shell command line when it needs it.
func shellQuoted(_ word: String) -> String {
    let safe = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,%+@")
    if !word.isEmpty, word.unicodeScalars.allSatisfy({ safe.contains($0) }) { return word }
    return "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'"
}
