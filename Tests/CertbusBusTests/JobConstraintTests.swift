import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

/// sql/018 rewrote the kind and queue CHECK constraints of certbus.jobs without bounded
/// repetitions (which PostgreSQL's regex engine matches slowly, on every UPDATE). They must
/// accept exactly what the originals accepted.
///
/// Database: its own TestDatabase (template copy on the shared test cluster), dropped at the end.
@Suite struct JobConstraintTests {
    static let originalKind = "^[A-Z][A-Z0-9_]{0,62}$"
    static let originalQueue = "^[a-z0-9][a-z0-9_.-]{0,62}$"

    /// Names around every edge of both patterns: lengths 0, 1, 63, 64, first characters, each
    /// class, characters just outside it, Unicode, a trailing line break.
    static let samples: [String] = {
        var s = ["", "A", "a", "0", "_", "-", ".", "NOOP", "ISSUE_CERT", "issue_cert", "default", "bulk-2.eu_west",
                 "A" + String(repeating: "B", count: 62), "A" + String(repeating: "B", count: 63),
                 "a" + String(repeating: "b", count: 62), "a" + String(repeating: "b", count: 63),
                 "A_9", "9A", "_A", "a-", ".a", "Ab", "aB", "A B", "a b", "Ä", "ä", "a\n", "A\n", "A$", "a/b", "a+b"]
        for ch in "!\"#%&'()*+,/:;<=>?@[\\]^`{|}~" { s.append("A\(ch)"); s.append("a\(ch)") }
        return s
    }()

    @Test func rewrittenKindAndQueueChecksAcceptExactlyWhatTheOriginalsAccepted() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let definitions = try c.query(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'certbus.jobs'::regclass AND conname IN ('jobs_kind_check', 'jobs_queue_check')"
        ).map { try ($0.decode("conname", as: String.self), $0.decode("def", as: String.self)) }
        #expect(definitions.count == 2)
        #expect(definitions.allSatisfy { !$0.1.contains("{0,62}") }, "\(definitions)")
        for value in Self.samples {
            let row = try c.query(
                """
                SELECT ($1 ~ $2) AS old_kind, (length($1) <= 63 AND $1 ~ '^[A-Z][A-Z0-9_]*$') AS new_kind,
                       ($1 ~ $3) AS old_queue, (length($1) <= 63 AND $1 ~ '^[a-z0-9][a-z0-9_.-]*$') AS new_queue
                """, [value, Self.originalKind, Self.originalQueue])[0]
            #expect(try row.decode("old_kind", as: Bool.self) == row.decode("new_kind", as: Bool.self), "kind \(value.debugDescription)")
            #expect(try row.decode("old_queue", as: Bool.self) == row.decode("new_queue", as: Bool.self), "queue \(value.debugDescription)")
        }
    }

    @Test func theTableStillRefusesBadKindsAndQueuesByConstraintName() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try c.execute("ALTER TABLE certbus.jobs DISABLE TRIGGER jobs_validate")  // reach the constraints themselves
        for (column, value, constraint) in [("kind", "noop", "jobs_kind_check"), ("kind", "A" + String(repeating: "B", count: 63), "jobs_kind_check"),
                                            ("queue", "Default", "jobs_queue_check"), ("queue", "q" + String(repeating: "x", count: 63), "jobs_queue_check")] {
            let kind = column == "kind" ? value : "NOOP"
            let queue = column == "queue" ? value : "default"
            do {
                try c.execute("INSERT INTO certbus.jobs (kind, name, queue, max_attempts) VALUES ($1, 'x', $2, 1)", [kind, queue])
                Issue.record("\(column) \(value.debugDescription) was accepted")
            } catch let error as PostgresError {
                #expect(error.constraint == constraint, "\(error)")
            }
        }
        // An UPDATE re-checks them too.
        try c.execute("INSERT INTO certbus.jobs (kind, name, queue, max_attempts) VALUES ('NOOP', 'x', 'default', 1)")
        #expect(throws: PostgresError.self) { try c.execute("UPDATE certbus.jobs SET queue = 'Bad Queue'") }
    }
}
