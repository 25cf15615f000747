import Foundation

/// What a finished command did: its exit status and everything it wrote.
public struct CommandResult: Sendable {
    /// The exit status; for a process ended by a signal (e.g. killed after a timeout), the
    /// signal's number, as `Process.terminationStatus` reports it.
    public var status: Int32
    /// Everything written to standard output, decoded as UTF-8.
    public var output: String
    /// Everything written to standard error, decoded as UTF-8.
    public var error: String

    /// Standard output followed by standard error, for messages and checks that do not care
    /// which of the two a line went to.
    public var combined: String { output + error }

    /// The standard output parsed as JSON (`JSONSerialization`); throws when it is not JSON.
    public func json() throws -> Any { try JSONSerialization.jsonObject(with: Data(output.utf8)) }
}
