/// Generates `--help` text and the short usage shown with usage errors.
public enum HelpFormatter {
    /// The width help text is wrapped to.
    public static let width = 80

    /// The full help: usage line, abstract, discussion, arguments, options (with
    /// defaults and allowed values), subcommands.
    public static func help(for command: Command, path: [String]) -> String {
        let name = path.joined(separator: " ")
        var sections: [String] = []
        sections.append("Usage: " + synopsis(for: command, path: path))
        if !command.abstract.isEmpty { sections.append(wrap(command.abstract, width: width)) }
        if !command.discussion.isEmpty {
            sections.append(
                command.discussion.components(separatedBy: "\n\n").map { wrap($0, width: width) }.joined(
                    separator: "\n\n"))
        }
        if !command.arguments.isEmpty {
            let rows = command.arguments.map { spec -> (String, String) in
                (argumentLabel(spec), describe(spec.help, defaultDescription: spec.defaultDescription, allowed: spec.allowedValues))
            }
            sections.append("Arguments:\n" + table(rows))
        }
        var optionRows = command.options.map { spec -> (String, String) in
            var help = spec.help
            if spec.isRepeatable && spec.takesValue { help += " May be repeated." }
            if spec.isRequired { help += " Required." }
            return (optionLabel(spec), describe(help, defaultDescription: spec.defaultDescription, allowed: spec.allowedValues))
        }
        optionRows.append(("-h, --help", "Show this help."))
        sections.append("Options:\n" + table(optionRows))
        if !command.subcommands.isEmpty {
            sections.append("Subcommands:\n" + table(command.subcommands.map { ($0.name, $0.abstract) }))
            sections.append("Run '\(name) <subcommand> --help' for more about a subcommand.")
        }
        return sections.joined(separator: "\n\n") + "\n"
    }

    /// The short usage printed after a usage error: the synopsis, the
    /// subcommands of a group, and a pointer to `--help`.
    public static func shortUsage(for command: Command, path: [String]) -> String {
        let name = path.joined(separator: " ")
        var text = "Usage: " + synopsis(for: command, path: path) + "\n"
        if !command.subcommands.isEmpty {
            text += "Subcommands: " + command.subcommands.map(\.name).joined(separator: ", ") + "\n"
        }
        text += "Run '\(name) --help' for more information.\n"
        return text
    }

    /// `certbus jobs list --kind <value> [options] <id> [<more>...]`, or `certbus jobs <subcommand>`.
    public static func synopsis(for command: Command, path: [String]) -> String {
        var parts = [path.joined(separator: " ")]
        if !command.subcommands.isEmpty && command.run == nil {
            parts.append("<subcommand>")
            return parts.joined(separator: " ")
        }
        for spec in command.options where spec.isRequired {
            parts.append("--\(spec.name) <\(spec.valueName)>")
        }
        parts.append("[options]")
        if !command.subcommands.isEmpty { parts.append("[<subcommand>]") }
        let arguments = argumentSynopsis(command.arguments)
        if !arguments.isEmpty { parts.append(arguments) }
        return parts.joined(separator: " ")
    }

    /// `<id> [<name>] [<more>...]`.
    public static func argumentSynopsis(_ arguments: [ArgumentSpec]) -> String {
        arguments.map { spec in
            switch spec.arity {
            case .required: return "<\(spec.name)>"
            case .optional: return "[<\(spec.name)>]"
            case .variadic: return "[<\(spec.name)>...]"
            case .oneOrMore: return "<\(spec.name)>..."
            }
        }.joined(separator: " ")
    }

    static func argumentLabel(_ spec: ArgumentSpec) -> String {
        switch spec.arity {
        case .required, .optional: return "<\(spec.name)>"
        case .variadic, .oneOrMore: return "<\(spec.name)>..."
        }
    }

    static func optionLabel(_ spec: OptionSpec) -> String {
        let short = spec.short.map { "-\($0), " } ?? "    "
        let value = spec.takesValue ? " <\(spec.valueName)>" : ""
        return short + "--" + spec.name + value
    }

    static func describe(_ help: String, defaultDescription: String?, allowed: [String]?) -> String {
        var text = help
        if let allowed, !allowed.isEmpty { text += " (one of: \(allowed.joined(separator: ", ")))" }
        if let defaultDescription { text += " (default: \(defaultDescription))" }
        return text
    }

    /// Two columns: labels padded to a common width (at most 30), descriptions wrapped;
    /// a longer label puts its description on the next line.
    public static func table(_ rows: [(String, String)]) -> String {
        let labelWidth = min(30, rows.map { $0.0.count }.max() ?? 0)
        let indent = 2 + labelWidth + 2
        var lines: [String] = []
        for (label, description) in rows {
            let wrapped = wrap(description, width: max(20, width - indent)).split(
                separator: "\n", omittingEmptySubsequences: false
            ).map(String.init)
            if label.count > labelWidth {
                lines.append("  " + label)
                lines += wrapped.map { String(repeating: " ", count: indent) + $0 }
            } else {
                let first = "  " + label.padding(toLength: labelWidth, withPad: " ", startingAt: 0) + "  "
                lines.append((first + (wrapped.first ?? "")).trimmingTrailingSpaces())
                lines += wrapped.dropFirst().map { String(repeating: " ", count: indent) + $0 }
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Wraps `text` at word boundaries to lines of at most `width` characters
    /// (a longer single word gets its own line). Existing line breaks are kept.
    public static func wrap(_ text: String, width: Int) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            var lines: [String] = []
            var current = ""
            for word in line.split(separator: " ") {
                if current.isEmpty {
                    current = String(word)
                } else if current.count + 1 + word.count <= width {
                    current += " " + word
                } else {
                    lines.append(current)
                    current = String(word)
                }
            }
            lines.append(current)
            return lines.joined(separator: "\n")
        }.joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var copy = self
        while copy.last == " " { copy.removeLast() }
        return copy
    }
}
