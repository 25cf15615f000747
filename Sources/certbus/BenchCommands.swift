import CertbusArguments

/// `certbus bench`: one subcommand per area. Adding a benchmark is one line here plus its
/// command file; the measuring code lives in the CertbusBench module (docs/internals.md).
enum BenchCommands {
    static let command = Command(
        "bench",
        abstract: "Benchmarks (build with -c release; see docs/benchmarks.md).",
        subcommands: [
            AuditBenchCommand.command,
            BenchQueueCommand.command,
            EventsBenchCommand.command,
            CertBenchCommand.command,
            GrowthBenchCommand.command,
            ReportBenchCommand.command,
            IncidentBenchCommand.command,
            MetricsBenchCommand.command,
            SoakBenchCommand.command,
        ])
}

/// What every benchmark command shares: the server its scratch database is created on, and
/// where its phase lines go (standard error; nothing with `--json`, so scripts get pure JSON).
struct BenchInvocation {
    /// The shared options (`--database-url`, `--json`).
    let context: CommandContext
    /// The configured database's URL; the benchmark creates its scratch database next to it.
    let url: String

    init(_ invocation: Invocation) throws {
        context = CommandContext(invocation)
        url = try context.configuration(applicationName: "certbus-bench").connectionString
    }

    /// Prints one phase line on standard error unless `--json` was given.
    func progress(_ line: String) {
        if !context.json { context.invocation.printError(line) }
    }
}
