import CertbusArguments
import CertbusDatabase
import Foundation
import Postgres

/// `certbus migrate`: applies the numbered migrations of sql/.
enum MigrateCommand {
    static let status = Flag("status", help: "List applied and pending migrations; change nothing.")
    static let sqlDirectory = Option<String>(
        "sql-dir", valueName: "dir", help: "Folder of migration files (default: $CERTBUS_SQL_DIR, the installed share/certbus/sql, or the checkout's sql/).")

    static let command = Command(
        "migrate",
        abstract: "Apply pending database migrations (safe to run from several processes at once).",
        discussion: """
            Applies every pending file of sql/ in name order, each in its own transaction, under a \
            cluster-wide advisory lock, and records its name, SHA-256 and duration in \
            certbus.schema_migrations. Refuses to run when an applied file was edited or removed: \
            migrations are forward-only. With no --database-url it uses (and starts) the embedded cluster.
            """,
        options: CommandContext.options + [status, sqlDirectory]
    ) { invocation in
        let context = CommandContext(invocation)
        let migrator: Migrator
        if let dir = invocation[sqlDirectory] {
            migrator = Migrator(directory: URL(fileURLWithPath: dir))
        } else {
            migrator = try Migrator.located()
        }
        let connection = try context.connect(applicationName: "certbus-migrate")
        defer { connection.close() }
        if invocation[status] {
            let states = try migrator.status(connection)
            if context.json {
                let rows = states.map { state -> JSONValue in
                    .object([
                        "name": .string(state.name),
                        "applied": .bool(state.appliedAt != nil),
                        "applied_at": state.appliedAt.map { .string(PostgresTimestamp.format($0)) } ?? .null,
                        "checksum": state.checksum.map { .string($0) } ?? .null,
                    ])
                }
                invocation.output.write(try JSONOutput.string(JSONValue.array(rows)))
            } else {
                let table = TableFormatter(headers: ["MIGRATION", "STATUS", "APPLIED AT"])
                invocation.print(
                    table.render(
                        states.map { state in
                            [
                                state.name, state.appliedAt == nil ? "pending" : "applied",
                                state.appliedAt.map { PostgresTimestamp.format($0) } ?? "",
                            ]
                        }))
            }
            return
        }
        let applied = try migrator.migrate(connection) { line in
            if !context.json { invocation.print(line) }
        }
        if context.json {
            invocation.output.write(try JSONOutput.string(JSONValue.object(["applied": .array(applied.map { .string($0) })])))
        } else {
            invocation.print(applied.isEmpty ? "database is up to date" : "applied \(applied.count) migration(s)")
        }
    }
}
