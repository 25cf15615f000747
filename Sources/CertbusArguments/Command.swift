/// One node of the command tree: `certbus`, `certbus jobs`, `certbus jobs list`.
///
/// A command has a name, a one-line abstract, an optional longer discussion,
/// options and flags, positional arguments, subcommands, and a `run` closure
/// that receives the parsed values. A group (a command with subcommands and no
/// `run`) only dispatches. `--help`/`-h` are added to every command.
///
/// ```swift
/// static let limit = Option<Int>("limit", short: "n", default: 50, help: "Rows to show.")
/// static let command = Command("list", abstract: "List jobs.", options: [limit, CommonFlags.json]) { invocation in
///     let rows = try await fetch(limit: invocation[limit]!)
///     invocation.print(TableFormatter(headers: ["ID", "KIND"]).render(rows))
/// }
/// ```
public struct Command: Sendable {
    /// What the command does when invoked.
    public typealias Body = @Sendable (Invocation) async throws -> Void

    /// The word that selects this command.
    public var name: String
    /// One line saying what it does, shown in lists of subcommands and at the top of help.
    public var abstract: String
    /// Paragraphs shown in help after the abstract; may be empty.
    public var discussion: String
    /// Options and flags, in the order help lists them.
    public var options: [OptionSpec]
    /// Positional arguments, in order.
    public var arguments: [ArgumentSpec]
    /// Subcommands, in the order help lists them.
    public var subcommands: [Command]
    /// The body, or nil for a pure group.
    public var run: Body?

    /// Declares a command. Traps (a programming error, caught by any test that
    /// builds the tree) on duplicate names, an option named `help` or short `h`,
    /// a required argument after an optional one, or a variadic argument that is not last.
    public init(
        _ name: String, abstract: String, discussion: String = "", options: [any OptionDeclaration] = [],
        arguments: [any ArgumentDeclaration] = [], subcommands: [Command] = [], run: Body? = nil
    ) {
        self.name = name
        self.abstract = abstract
        self.discussion = discussion
        self.options = options.map(\.spec)
        self.arguments = arguments.map(\.spec)
        self.subcommands = subcommands
        self.run = run
        Self.validate(self)
    }

    /// The option or flag with long name `name`.
    public func option(named name: String) -> OptionSpec? { options.first { $0.name == name } }
    /// The option or flag with short name `short`.
    public func option(short: Character) -> OptionSpec? { options.first { $0.short == short } }
    /// The subcommand called `name`.
    public func subcommand(named name: String) -> Command? { subcommands.first { $0.name == name } }

    /// The command reached by following `path` (names below this one); nil if a name is unknown.
    public func descendant(_ path: [String]) -> Command? {
        var command = self
        for name in path {
            guard let next = command.subcommand(named: name) else { return nil }
            command = next
        }
        return command
    }

    /// Returns a copy with `command` appended to the subcommands (replacing one of the same name).
    public func adding(_ command: Command) -> Command {
        var copy = self
        copy.subcommands.removeAll { $0.name == command.name }
        copy.subcommands.append(command)
        return copy
    }

    private static func validate(_ command: Command) {
        func duplicates(_ names: [String]) -> [String] {
            Dictionary(grouping: names, by: { $0 }).filter { $0.value.count > 1 }.map(\.key).sorted()
        }
        precondition(!command.name.isEmpty && !command.name.hasPrefix("-"), "bad command name '\(command.name)'")
        let longNames = command.options.map(\.name)
        precondition(duplicates(longNames).isEmpty, "duplicate options \(duplicates(longNames)) in '\(command.name)'")
        let shortNames = command.options.compactMap(\.short).map(String.init)
        precondition(duplicates(shortNames).isEmpty, "duplicate short options \(duplicates(shortNames)) in '\(command.name)'")
        precondition(!longNames.contains("help") && !shortNames.contains("h"), "--help/-h are built in ('\(command.name)')")
        precondition(
            longNames.allSatisfy { !$0.isEmpty && !$0.hasPrefix("-") && !$0.contains("=") },
            "bad option name in '\(command.name)'")
        let subcommandNames = command.subcommands.map(\.name)
        precondition(
            duplicates(subcommandNames).isEmpty, "duplicate subcommands \(duplicates(subcommandNames)) in '\(command.name)'")
        precondition(!subcommandNames.contains("help"), "'help' is built in ('\(command.name)')")
        var seenOptional = false
        for (index, argument) in command.arguments.enumerated() {
            switch argument.arity {
            case .required:
                precondition(!seenOptional, "required argument <\(argument.name)> after an optional one in '\(command.name)'")
            case .optional:
                seenOptional = true
            case .variadic, .oneOrMore:
                precondition(index == command.arguments.count - 1, "<\(argument.name)...> must be the last argument")
                seenOptional = true
            }
        }
        let argumentNames = command.arguments.map(\.name)
        precondition(duplicates(argumentNames).isEmpty, "duplicate arguments in '\(command.name)'")
    }
}
