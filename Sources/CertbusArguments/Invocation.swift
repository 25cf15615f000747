import Foundation

/// The parsed command line handed to a command's `run`: typed values of its
/// options, flags and arguments, plus where to write output.
///
/// Reading an option or argument the command did not declare is a programming
/// error and traps with a message naming it.
public struct Invocation: Sendable {
    /// The words that selected the command, e.g. `["certbus", "jobs", "list"]`.
    public let commandPath: [String]
    /// The command being run.
    public let command: Command
    /// Standard output (or a capture in tests).
    public let output: any TextOutput
    /// Standard error (or a capture in tests).
    public let errorOutput: any TextOutput
    /// The environment variables the command should see.
    public let environment: [String: String]

    let optionValues: [String: [any Sendable]]
    let flagCounts: [String: Int]
    let argumentValues: [String: [any Sendable]]

    /// Builds an invocation from parsed values (used by the parser, and by tests of command bodies).
    public init(
        parsed: ParsedCommand, output: any TextOutput = StandardOutput(), errorOutput: any TextOutput = StandardError(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) {
        self.commandPath = parsed.commandPath
        self.command = parsed.command
        self.optionValues = parsed.optionValues
        self.flagCounts = parsed.flagCounts
        self.argumentValues = parsed.argumentValues
        self.output = output
        self.errorOutput = errorOutput
        self.environment = environment
    }

    /// The command path as typed: "certbus jobs list".
    public var commandName: String { commandPath.joined(separator: " ") }

    // MARK: Options

    /// The option's value: the one given, else its default, else nil.
    public subscript<Value>(option: Option<Value>) -> Value? {
        values(option).last
    }

    /// Every value given for a repeatable option, in order; `[default]` or `[]` if none was given.
    public func values<Value>(_ option: Option<Value>) -> [Value] {
        let given = optionValues[checkedOption(option.name)] ?? []
        if given.isEmpty { return option.defaultValue.map { [$0] } ?? [] }
        return given.map { cast($0, option.name) }
    }

    /// The option's value (given or default); a `UsageError` if there is neither.
    public func value<Value>(_ option: Option<Value>) throws -> Value {
        guard let value = self[option] else {
            throw UsageError("missing required option '--\(option.name)' for '\(commandName)'", commandPath: commandPath)
        }
        return value
    }

    /// True if the option was given on the command line (not just defaulted).
    public func isGiven<Value>(_ option: Option<Value>) -> Bool {
        !(optionValues[checkedOption(option.name)] ?? []).isEmpty
    }

    /// True if the flag was given.
    public subscript(flag: Flag) -> Bool {
        (flagCounts[checkedOption(flag.name)] ?? 0) > 0
    }

    /// How many times the flag was given (`-v -v`).
    public func count(_ flag: Flag) -> Int { flagCounts[checkedOption(flag.name)] ?? 0 }

    // MARK: Arguments

    /// The argument's value: the one given, else its default, else nil.
    public subscript<Value>(argument: Argument<Value>) -> Value? {
        values(argument).first
    }

    /// Every word given for a (variadic) argument, in order; `[default]` or `[]` if none.
    public func values<Value>(_ argument: Argument<Value>) -> [Value] {
        precondition(
            command.arguments.contains { $0.name == argument.name },
            "'\(commandName)' has no argument <\(argument.name)>")
        let given = argumentValues[argument.name] ?? []
        if given.isEmpty { return argument.defaultValue.map { [$0] } ?? [] }
        return given.map { cast($0, argument.name) }
    }

    /// The argument's value (given or default); a `UsageError` if there is neither.
    public func value<Value>(_ argument: Argument<Value>) throws -> Value {
        guard let value = self[argument] else {
            throw UsageError("missing argument <\(argument.name)> for '\(commandName)'", commandPath: commandPath)
        }
        return value
    }

    // MARK: Output

    /// Writes `text` and a newline to standard output.
    public func print(_ text: String = "") { output.write(text + "\n") }
    /// Writes `text` and a newline to standard error.
    public func printError(_ text: String) { errorOutput.write(text + "\n") }

    // MARK: Helpers

    private func checkedOption(_ name: String) -> String {
        precondition(command.option(named: name) != nil, "'\(commandName)' has no option '--\(name)'")
        return name
    }

    private func cast<Value>(_ value: any Sendable, _ name: String) -> Value {
        guard let typed = value as? Value else {
            preconditionFailure("'\(name)' of '\(commandName)' holds \(type(of: value)), not \(Value.self)")
        }
        return typed
    }
}

/// What the parser found: the command and its raw typed values.
public struct ParsedCommand: Sendable {
    /// The words that selected the command.
    public var commandPath: [String]
    /// The command selected.
    public var command: Command
    /// Option values by long name, in the order given.
    public var optionValues: [String: [any Sendable]]
    /// Flag counts by long name.
    public var flagCounts: [String: Int]
    /// Argument values by name, in order.
    public var argumentValues: [String: [any Sendable]]
}
