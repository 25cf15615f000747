import CertbusArguments

/// The root of the certbus command tree. The list of groups is in main.swift
/// (`CommandTree.groups`), so that adding a group is one line there.
///
/// The tree is a lazily initialised static rather than a global in main.swift:
/// main.swift's globals are only initialised when the program runs, not when
/// tests import this module.
enum CommandTree {
    /// `certbus`: dispatches to the groups; `certbus --version` prints the version.
    static let root = Command(
        "certbus", abstract: "Certificate lifecycle management over PostgreSQL.",
        discussion: """
            certbus issues, renews, revokes and validates X.509 certificates. Its services \
            coordinate only through one PostgreSQL database: give it with --database-url or \
            CERTBUS_DATABASE_URL, or let certbus run an embedded cluster (certbus db start).
            """,
        options: [VersionCommand.versionFlag],
        subcommands: groups,
        run: VersionCommand.rootRun)
}
