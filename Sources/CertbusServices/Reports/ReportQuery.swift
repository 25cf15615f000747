import Foundation
import Postgres

/// Reads a report section's rows: runs one parameterized query and decodes each declared
/// column by its kind. A query that cuts its rows to a limit also returns `total_rows`
/// (`count(*) OVER ()`), the number there were before the cut.
enum ReportQuery {
    /// The rows of `sql` (run with `parameters`) as values of `columns`, and the
    /// `total_rows` column of the first row when the query has one.
    static func rows(
        _ sql: String, _ parameters: [any PostgresEncodable], columns: [ReportColumn], on connection: Connection
    ) throws -> (rows: [[ReportValue]], totalRows: Int?) {
        let result = try connection.query(sql, parameters)
        let rows = try result.map { row in
            try columns.map { column in try column.value(fromDatabaseText: row.text(column.name)) }
        }
        var total: Int?
        if result.columns.contains("total_rows") {
            total = try result.firstRow.map { try $0.decode("total_rows", as: Int.self) } ?? 0
        }
        return (rows, total)
    }

    /// A section whose rows are read with `sql`; see `rows(_:_:columns:on:)`.
    static func section(
        id: String, title: String, summary: String, source: String, columns: [ReportColumn], sql: String,
        _ parameters: [any PostgresEncodable], on connection: Connection
    ) throws -> ReportSection {
        let (rows, total) = try Self.rows(sql, parameters, columns: columns, on: connection)
        return ReportSection(
            id: id, title: title, summary: summary, source: source, columns: columns, rows: rows, totalRows: total)
    }

    /// Runs `body` in one read-only REPEATABLE READ transaction, so that every part of a report
    /// sees the same snapshot of the database. JIT compilation is off inside it: the report's
    /// queries read up to a million rows, where PostgreSQL's JIT costs more than it saves (the
    /// certificate trends over 100,000 certificates and 1.1 million attempts: 2.8 s with JIT,
    /// 0.8 s without; docs/operations.md).
    static func snapshot<T>(on connection: Connection, _ body: (Connection) throws -> T) throws -> T {
        try connection.withTransaction(isolation: .repeatableRead) { c in
            try c.execute("SET TRANSACTION READ ONLY")
            try c.execute("SET LOCAL jit = off")
            return try body(c)
        }
    }

    /// Fails with a clear message when `function` (a regprocedure text such as
    /// `certbus.report_weeks(timestamptz,timestamptz)`) does not exist: the database was not migrated.
    static func requireFunction(_ function: String, on connection: Connection) throws {
        let present = try connection.query("SELECT to_regprocedure($1) IS NOT NULL AS present", [function])
        guard try present[0].decode("present", as: Bool.self) else {
            throw ReportError("the database has no \(function) yet: run 'certbus migrate' first")
        }
    }

    /// Fails with a clear message when the view `certbus.<view>` does not exist.
    static func requireView(_ view: String, on connection: Connection) throws {
        let present = try connection.query("SELECT to_regclass($1) IS NOT NULL AS present", ["certbus." + view])
        guard try present[0].decode("present", as: Bool.self) else {
            throw ReportError("the database has no reporting view certbus.\(view) yet: run 'certbus migrate' first")
        }
    }
}
