/// A command line that does not fit the command: unknown option, missing or
/// invalid value, missing or extra argument. Exit status 2.
///
/// The runner prints `error: <message>`, the suggestion if any, and the short
/// usage of the command concerned, all to standard error. A command's `run`
/// may throw one too (e.g. for two options that exclude each other); the
/// runner fills in the command path.
public struct UsageError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong, naming the option or argument and the command.
    public var message: String
    /// A hint such as "did you mean '--limit'?", if one is close enough.
    public var suggestion: String?
    /// The command whose usage to show (`["certbus", "jobs", "list"]`); empty means "the one being run".
    public var commandPath: [String]

    /// A usage error about the command at `commandPath`.
    public init(_ message: String, suggestion: String? = nil, commandPath: [String] = []) {
        self.message = message
        self.suggestion = suggestion
        self.commandPath = commandPath
    }

    /// The message, then the suggestion on its own line.
    public var description: String {
        guard let suggestion else { return message }
        return message + "\n" + suggestion
    }
}

/// Ends a command with a given exit status, without printing anything more.
///
/// Throw `ExitCode.failure` after printing your own explanation; the runner exits with it.
public struct ExitCode: Error, Sendable, Equatable, CustomStringConvertible {
    /// The process exit status.
    public var rawValue: Int32
    /// An exit status.
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    /// 0: everything worked.
    public static let success = ExitCode(0)
    /// 1: the command ran and failed.
    public static let failure = ExitCode(1)
    /// 2: the command line was wrong.
    public static let usage = ExitCode(2)
    /// "exit status N".
    public var description: String { "exit status \(rawValue)" }
}
