import CertbusArguments
import Foundation

/// A small command tree like certbus's, used by the parser and runner tests.
enum Sample {
    enum Kind: String, CaseIterable, ArgumentValue { case issue = "ISSUE_CERT", renew = "RENEW_CERT" }

    static let limit = Option<Int>("limit", short: "n", default: 50, help: "Maximum number of rows.")
    static let status = Option<String>(
        "status", allowed: ["queued", "running", "success", "failed"], help: "Only jobs in this status.")
    static let tag = Option<String>("tag", short: "t", repeatable: true, help: "Only jobs with this tag.")
    static let within = Option<TimeSpan>("within", default: .days(30), help: "How far ahead to look.")
    static let since = Option<Date>("since", help: "Only jobs scheduled since this date.")
    static let ratio = Option<Double>("ratio", help: "A fraction.")
    static let kind = Option<Kind>("kind", help: "Only jobs of this kind.")
    static let json = Flag("json", help: "Print JSON instead of a table.")
    static let verbose = Flag("verbose", short: "v", help: "Say more.")
    static let quiet = Flag("quiet", short: "q", help: "Say less.")
    static let id = Argument<Int>("id", help: "The job's id.")
    static let reason = Argument<String>("reason", arity: .optional, default: "operator request", help: "Why.")
    static let names = Argument<String>("name", arity: .variadic, help: "Names to look for.")
    static let hosts = Argument<String>("host", arity: .oneOrMore, help: "Hosts to probe.")
    static let owner = Option<String>("owner", required: true, help: "Who owns it.")

    /// Records what the last run saw.
    final class Recorder: @unchecked Sendable {
        private let lock = NSLock()
        private var invocations: [Invocation] = []
        func record(_ invocation: Invocation) { lock.withLock { invocations.append(invocation) } }
        var last: Invocation? { lock.withLock { invocations.last } }
    }

    static func tree(_ recorder: Recorder = Recorder()) -> Command {
        Command(
            "certbus", abstract: "Certificate lifecycle management over PostgreSQL.",
            subcommands: [
                Command(
                    "jobs", abstract: "Look at and act on jobs.",
                    subcommands: [
                        Command(
                            "list", abstract: "List jobs.",
                            discussion: "Lists the newest jobs first. Filters combine with AND.\n\nUse --json for scripts.",
                            options: [limit, status, tag, within, since, ratio, kind, json, verbose, quiet],
                            arguments: [names]
                        ) { recorder.record($0) },
                        Command("show", abstract: "Show one job.", options: [json], arguments: [id]) { recorder.record($0) },
                        Command("retry", abstract: "Retry a failed job.", arguments: [id, reason]) { invocation in
                            recorder.record(invocation)
                            if invocation[id] == 404 { throw SampleFailure(message: "job 404 does not exist") }
                            if invocation[id] == 3 { throw ExitCode(3) }
                            if invocation[id] == 22 {
                                throw UsageError("job 22 cannot be retried with a reason")
                            }
                            invocation.print("retried \(invocation[id]!)")
                        },
                    ]),
                Command("probe", abstract: "Probe hosts.", options: [owner], arguments: [hosts]) { recorder.record($0) },
                Command("version", abstract: "Print the version.") { $0.print("certbus 0.1.0") },
            ])
    }

    struct SampleFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { message }
    }
}

/// Parses and returns the parsed command, or nil with the result for inspection.
func parsed(_ words: [String], _ tree: Command = Sample.tree()) -> ParsedCommand? {
    if case .command(let parsed) = CommandParser.parse(words, root: tree) { return parsed }
    return nil
}

/// The usage error for `words`, if parsing fails with one.
func usageError(_ words: [String], _ tree: Command = Sample.tree()) -> UsageError? {
    if case .usageError(let error) = CommandParser.parse(words, root: tree) { return error }
    return nil
}

/// The help text for `words`, if parsing asks for help.
func helpText(_ words: [String], _ tree: Command = Sample.tree()) -> String? {
    if case .help(let text) = CommandParser.parse(words, root: tree) { return text }
    return nil
}

/// An invocation for `words` (captured output), or nil.
func invocation(_ words: [String]) -> Invocation? {
    parsed(words).map { Invocation(parsed: $0, output: CapturedOutput(), errorOutput: CapturedOutput(), environment: [:]) }
}

/// Runs `words` through the runner; returns (status, stdout, stderr).
func runTree(_ words: [String], _ tree: Command = Sample.tree()) async -> (status: Int32, out: String, err: String) {
    let out = CapturedOutput()
    let err = CapturedOutput()
    let status = await CommandRunner(tree).run(words, output: out, errorOutput: err, environment: [:])
    return (status, out.text, err.text)
}
