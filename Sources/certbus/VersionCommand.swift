import CertbusArguments

/// `certbus version` and `certbus --version`.
enum VersionCommand {
    /// `--version` on the root command.
    static let versionFlag = Flag("version", help: "Print the version and exit.")
    static let json = Flag("json", help: "Print JSON.")

    /// The `version` command.
    static let command = Command(
        "version", abstract: "Print certbus's version and the versions of what it was built with.",
        options: [json]
    ) { invocation in
        try printVersion(invocation, json: invocation[json])
    }

    /// The root command's body: `--version` prints the version; nothing else to do means a usage error.
    @Sendable static func rootRun(_ invocation: Invocation) async throws {
        guard invocation[versionFlag] else {
            throw UsageError("'certbus' needs a subcommand")
        }
        try printVersion(invocation, json: false)
    }

    /// The facts shown; later additions (libpq, OpenSSL) go here.
    static var components: [(name: String, version: String)] {
        [("certbus", CertbusVersion.current), ("swift", CertbusVersion.swift)]
    }

    static func printVersion(_ invocation: Invocation, json: Bool) throws {
        if json {
            let object = JSONValue.object(Dictionary(uniqueKeysWithValues: components.map { ($0.name, JSONValue.string($0.version)) }))
            invocation.output.write(try JSONOutput.string(object))
        } else {
            for component in components { invocation.print("\(component.name) \(component.version)") }
        }
    }
}
