import CertbusArguments

/// `certbus bench`: one subcommand per area. Adding a benchmark is one line here.
enum BenchCommands {
    static let command = Command(
        "bench",
        abstract: "Benchmarks (build with -c release; see docs/benchmarks.md).",
        subcommands: [
            AuditBenchCommand.command,
            BenchQueueCommand.command,
            EventsBenchCommand.command,
            CertBenchCommand.command,
            ReportBenchCommand.command,
        ])
}
