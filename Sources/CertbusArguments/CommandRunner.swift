import Foundation

/// Runs a command tree: parses, prints help or usage errors, calls the
/// command's body, and maps the outcome to an exit status.
///
/// Exit statuses: 0 success (and help); 1 the command failed (it threw; the
/// runner prints `error: <description>` to standard error); 2 usage error
/// (the error and the command's short usage go to standard error). A body may
/// throw `ExitCode` to choose the status itself without more output.
public struct CommandRunner: Sendable {
    /// The root command (its name is the program name shown in usage).
    public let root: Command

    /// A runner for `root`.
    public init(_ root: Command) { self.root = root }

    /// Runs `arguments` (without the program name) and returns the exit status.
    public func run(
        _ arguments: [String], output: any TextOutput = StandardOutput(),
        errorOutput: any TextOutput = StandardError(),
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) async -> Int32 {
        switch CommandParser.parse(arguments, root: root) {
        case .help(let text):
            output.write(text)
            return ExitCode.success.rawValue
        case .usageError(let error):
            report(error, defaultPath: [root.name], errorOutput: errorOutput)
            return ExitCode.usage.rawValue
        case .command(let parsed):
            guard let body = parsed.command.run else {
                report(UsageError("'\(parsed.commandPath.joined(separator: " "))' needs a subcommand",
                    commandPath: parsed.commandPath), defaultPath: parsed.commandPath, errorOutput: errorOutput)
                return ExitCode.usage.rawValue
            }
            let invocation = Invocation(
                parsed: parsed, output: output, errorOutput: errorOutput, environment: environment)
            do {
                try await body(invocation)
                return ExitCode.success.rawValue
            } catch let exit as ExitCode {
                return exit.rawValue
            } catch let error as UsageError {
                report(error, defaultPath: parsed.commandPath, errorOutput: errorOutput)
                return ExitCode.usage.rawValue
            } catch {
                errorOutput.write("error: \(Self.describe(error))\n")
                return ExitCode.failure.rawValue
            }
        }
    }

    /// Runs the process's own arguments and exits with the resulting status.
    public func main() async -> Never {
        let status = await run(Array(CommandLine.arguments.dropFirst()))
        exit(status)
    }

    /// `error: …`, the suggestion, and the short usage of the command concerned.
    func report(_ error: UsageError, defaultPath: [String], errorOutput: any TextOutput) {
        let path = error.commandPath.isEmpty ? defaultPath : error.commandPath
        var text = "error: \(Self.visible(error.message))\n"
        if let suggestion = error.suggestion { text += "  \(suggestion)\n" }
        if let command = root.descendant(Array(path.dropFirst())) {
            text += HelpFormatter.shortUsage(for: command, path: path)
        }
        errorOutput.write(text)
    }

    /// An error's description (`CustomStringConvertible.description` where the error provides one),
    /// with control characters other than newline and tab shown as `\u{1B}`-style escapes: messages
    /// quote user input, which must not reach the terminal as a NUL or an escape sequence.
    static func describe(_ error: any Error) -> String {
        visible(String(describing: error))
    }

    /// `text` with every control character except newline and tab replaced by its `\u{XX}` escape.
    static func visible(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control && scalar != "\n" && scalar != "\t" {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
