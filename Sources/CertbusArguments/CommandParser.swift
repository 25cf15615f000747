/// What a command line asks for.
public enum ParseResult: Sendable {
    /// Run this command with these values.
    case command(ParsedCommand)
    /// Print this help text to standard output and exit 0 (`--help`, `-h`, `help <cmd>`).
    case help(String)
    /// Print this error and the command's short usage to standard error and exit 2.
    case usageError(UsageError)
}

/// Turns words into a `ParseResult` for a command tree. Pure: no I/O.
///
/// Rules:
/// - Words naming a subcommand descend into it (before any positional argument).
///   `help [<command>...]` at any group shows help for that command.
/// - `--name VALUE`, `--name=VALUE`, `-n VALUE`, `-nVALUE`, `-n=VALUE`;
///   flags may be bundled (`-vq`); `--` makes every later word positional.
/// - A word starting with `-` is never taken as an option's value (use
///   `--name=-x`), except a negative number.
/// - A non-repeatable option given twice, an unknown option, a missing or
///   invalid value, a missing required option or argument, and an extra
///   argument are usage errors that name the option or argument and the
///   command, with a "did you mean" suggestion when a name is close.
public enum CommandParser {
    /// Parses `words` (without the program name) against `root`.
    public static func parse(_ words: [String], root: Command) -> ParseResult {
        var state = State(command: root, path: [root.name])
        var index = 0
        var onlyPositionals = false
        while index < words.count {
            let word = words[index]
            index += 1
            if onlyPositionals {
                state.positionals.append(word)
                continue
            }
            if word == "--" {
                onlyPositionals = true
                continue
            }
            if word == "--help" || word == "-h" {
                return .help(HelpFormatter.help(for: state.command, path: state.path))
            }
            do {
                if word.hasPrefix("--") {
                    let body = word.dropFirst(2)
                    let name = body.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                    let inline = body.contains("=") ? String(body[body.index(after: body.firstIndex(of: "=")!)...]) : nil
                    guard let spec = state.command.option(named: name) else {
                        throw state.unknownOption("--" + name)
                    }
                    try state.take(spec, as: "--" + name, inline: inline, words: words, index: &index)
                } else if word.hasPrefix("-"), word.count > 1, !looksNumeric(word) {
                    let letters = Array(word.dropFirst())
                    var position = 0
                    while position < letters.count {
                        let letter = letters[position]
                        position += 1
                        if letter == "h" { return .help(HelpFormatter.help(for: state.command, path: state.path)) }
                        guard let spec = state.command.option(short: letter) else {
                            throw state.unknownOption("-" + String(letter))
                        }
                        if !spec.takesValue {
                            if position < letters.count, letters[position] == "=" {
                                throw state.error("flag '-\(letter)' does not take a value")
                            }
                            try state.take(spec, as: "-" + String(letter), inline: nil, words: words, index: &index)
                            continue
                        }
                        var rest = String(letters[position...])
                        if rest.hasPrefix("=") { rest.removeFirst() }
                        try state.take(
                            spec, as: "-" + String(letter), inline: position < letters.count ? rest : nil, words: words,
                            index: &index)
                        break
                    }
                } else if !state.command.subcommands.isEmpty && state.positionals.isEmpty {
                    if let subcommand = state.command.subcommand(named: word) {
                        state.command = subcommand
                        state.path.append(subcommand.name)
                    } else if word == "help" {
                        return helpResult(for: Array(words[index...]), from: state.command, path: state.path)
                    } else if state.command.run == nil || state.command.arguments.isEmpty {
                        let names = state.command.subcommands.map(\.name)
                        throw state.error(
                            "unknown command '\(word)' for '\(state.name)'",
                            suggestion: Suggestions.closest(to: word, among: names).map { "did you mean '\($0)'?" })
                    } else {
                        state.positionals.append(word)
                    }
                } else {
                    state.positionals.append(word)
                }
            } catch let error as UsageError {
                return .usageError(error)
            } catch {
                return .usageError(UsageError("\(error)", commandPath: state.path))
            }
        }
        do {
            return .command(try state.finish())
        } catch let error as UsageError {
            return .usageError(error)
        } catch {
            return .usageError(UsageError("\(error)", commandPath: state.path))
        }
    }

    /// Help for `help a b c` typed at `command`.
    static func helpResult(for names: [String], from command: Command, path: [String]) -> ParseResult {
        var command = command
        var path = path
        for name in names where !name.hasPrefix("-") {
            guard let next = command.subcommand(named: name) else {
                let suggestion = Suggestions.closest(to: name, among: command.subcommands.map(\.name))
                return .usageError(
                    UsageError(
                        "unknown command '\(name)' for '\(path.joined(separator: " "))'",
                        suggestion: suggestion.map { "did you mean '\($0)'?" }, commandPath: path))
            }
            command = next
            path.append(name)
        }
        return .help(HelpFormatter.help(for: command, path: path))
    }

    /// True for words like `-5` or `-0.25` that are values, not options.
    static func looksNumeric(_ word: String) -> Bool {
        guard word.hasPrefix("-") else { return false }
        return Double(word) != nil
    }

    /// The parse in progress.
    struct State {
        var command: Command
        var path: [String]
        var positionals: [String] = []
        var optionValues: [String: [any Sendable]] = [:]
        var flagCounts: [String: Int] = [:]
        /// Options given before a subcommand word, checked against the final command.
        var optionOwners: [String: String] = [:]

        var name: String { path.joined(separator: " ") }

        func error(_ message: String, suggestion: String? = nil) -> UsageError {
            UsageError(message, suggestion: suggestion, commandPath: path)
        }

        func unknownOption(_ written: String) -> UsageError {
            let names = command.options.map(\.name) + ["help"]
            let bare = written.drop(while: { $0 == "-" })
            let suggestion = written.hasPrefix("--") ? Suggestions.closest(to: String(bare), among: names) : nil
            return error(
                "unknown option '\(written)' for '\(name)'", suggestion: suggestion.map { "did you mean '--\($0)'?" })
        }

        /// Records one occurrence of `spec`, reading its value from `inline` or the next word.
        mutating func take(
            _ spec: OptionSpec, as written: String, inline: String?, words: [String], index: inout Int
        ) throws {
            optionOwners[spec.name] = name
            guard spec.takesValue else {
                if inline != nil { throw error("flag '\(written)' does not take a value") }
                flagCounts[spec.name, default: 0] += 1
                return
            }
            let raw: String
            if let inline {
                raw = inline
            } else if index < words.count, !isOptionLike(words[index]) {
                raw = words[index]
                index += 1
            } else {
                throw error("missing value for option '\(written)' of '\(name)' (expected <\(spec.valueName)>)")
            }
            if !spec.isRepeatable, optionValues[spec.name] != nil {
                throw error("option '\(written)' of '\(name)' was given more than once")
            }
            optionValues[spec.name, default: []].append(try read(raw, with: spec.parse, allowed: spec.allowedValues, for: "'\(written)'"))
        }

        func isOptionLike(_ word: String) -> Bool {
            word.hasPrefix("-") && word != "-" && !CommandParser.looksNumeric(word)
        }

        func read(
            _ raw: String, with parse: (String) throws -> any Sendable, allowed: [String]?, for what: String
        ) throws -> any Sendable {
            if let allowed, !allowed.contains(raw) {
                throw error(
                    "invalid value '\(raw)' for \(what) of '\(name)': expected one of \(allowed.joined(separator: ", "))",
                    suggestion: Suggestions.closest(to: raw, among: allowed).map { "did you mean '\($0)'?" })
            }
            do {
                return try parse(raw)
            } catch let failure as ArgumentValueError {
                throw error("invalid value '\(raw)' for \(what) of '\(name)': expected \(failure.expected)")
            }
        }

        /// Checks what the whole command line gave and assigns positionals.
        mutating func finish() throws -> ParsedCommand {
            if !command.subcommands.isEmpty && command.run == nil {
                throw error("'\(name)' needs a subcommand")
            }
            for given in Set(optionValues.keys).union(flagCounts.keys) where command.option(named: given) == nil {
                throw error("option '--\(given)' belongs to '\(optionOwners[given] ?? "?")', not to '\(name)'; put it after the subcommand")
            }
            for spec in command.options where spec.isRequired && optionValues[spec.name] == nil {
                throw error("missing required option '--\(spec.name) <\(spec.valueName)>' for '\(name)'")
            }
            var argumentValues: [String: [any Sendable]] = [:]
            var remaining = positionals[...]
            for spec in command.arguments {
                let words: [String]
                switch spec.arity {
                case .required:
                    guard let word = remaining.popFirst() else {
                        throw error("missing argument <\(spec.name)> for '\(name)'")
                    }
                    words = [word]
                case .optional:
                    words = remaining.popFirst().map { [$0] } ?? []
                case .variadic:
                    words = Array(remaining)
                    remaining = []
                case .oneOrMore:
                    guard !remaining.isEmpty else { throw error("missing argument <\(spec.name)> for '\(name)'") }
                    words = Array(remaining)
                    remaining = []
                }
                argumentValues[spec.name] = try words.map {
                    try read($0, with: spec.parse, allowed: spec.allowedValues, for: "<\(spec.name)>")
                }
            }
            if let extra = remaining.first {
                let expected =
                    command.arguments.isEmpty
                    ? "it takes no arguments" : "it takes \(HelpFormatter.argumentSynopsis(command.arguments))"
                throw error("unexpected argument '\(extra)' for '\(name)' (\(expected))")
            }
            return ParsedCommand(
                commandPath: path, command: command, optionValues: optionValues, flagCounts: flagCounts,
                argumentValues: argumentValues)
        }
    }
}
