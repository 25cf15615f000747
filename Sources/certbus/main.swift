import CertbusArguments

extension CommandTree {
    /// The command groups under `certbus`, in the order `certbus --help` lists them.
    /// Adding a group is one line here.
    static let groups: [Command] = [
        VersionCommand.command,
        DatabaseCommands.command,
        MigrateCommand.command,
        ServeCommand.command,
        WorkerCommand.command,
        SchedulerCommand.command,
        JobsCommands.command,
        AuditCommands.command,
        ReportCommands.command,
        MetricsCommand.command,
        BenchCommands.command,
        EndpointCommands.command,
        AlertsCommands.command,
        EventsCommands.command,
        TriggersCommands.command,
        NotifyProfilesCommands.command,
        AgentCommands.command,
        DiscoveryCommands.command,
        CertCommands.command,
        IncidentCommands.command,
        CACommands.command,
        ProfileCommands.command,
        ApprovalCommands.command,
        DemoCommand.command,
    ]
}

await CommandRunner(CommandTree.root).main()
