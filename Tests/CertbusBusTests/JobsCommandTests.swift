import CertbusBus
import CertbusTesting
import Foundation
import Postgres
import Testing

/// `certbus jobs ...` end to end: the built executable against a test database.
@Suite struct JobsCommandTests {
    func certbus(_ db: TestDatabase, _ arguments: String...) throws -> (status: Int32, output: String) {
        try ChildProcess.run(arguments + ["--database-url", db.connectionString])
    }

    @Test func enqueueListShowCancelRetry() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let nasty = "O'Brien\"; DROP TABLE certbus.jobs; --"
        let enqueued = try certbus(db, "jobs", "enqueue", "noop", "--payload", #"{"note": "x"}"#, "--name", nasty, "--priority", "7", "--run-at", "1h")
        #expect(enqueued.status == 0, "\(enqueued.output)")
        let id = try c.value("SELECT max(id) AS v FROM certbus.jobs", as: Int64.self)
        #expect(enqueued.output.contains("enqueued job \(id) (NOOP)"))
        let row = try c.query("SELECT name, priority, run_at > now() + interval '50 minutes' AS later, triggered_by_type FROM certbus.jobs WHERE id = $1", [id])[0]
        #expect(try row.decode("name", as: String.self) == nasty)
        #expect(try row.decode("priority", as: Int.self) == 7)
        #expect(try row.decode("later", as: Bool.self))
        #expect(try row.decode("triggered_by_type", as: String.self) == "USER")
        #expect(try c.value("SELECT count(*) AS v FROM certbus.audit_log WHERE action = 'JOB_ENQUEUED' AND entity_id = $1", [String(id)], as: Int.self) == 1)

        let listed = try certbus(db, "jobs", "list", "--json")
        #expect(listed.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(listed.output.utf8)) as? [[String: Any]])
        #expect(json.count == 1)
        #expect(json.first?["name"] as? String == nasty)
        #expect((json.first?["input_payload"] as? [String: Any])?["note"] as? String == "x")
        #expect(try certbus(db, "jobs", "list", "--status", "running").output.contains("no jobs"))
        #expect(try certbus(db, "jobs", "list", "--status", "queued", "--kind", "NOOP", "--since", "1h").output.contains(nasty))

        let shown = try certbus(db, "jobs", "show", String(id))
        #expect(shown.status == 0)
        for label in ["Job ID:", "Type:", "Status:", "CA ID:", "Scheduled:", "Started:", "Completed:", "Duration:", "Triggered by:",
            "Input payload:", "Output:", "Error:", "Issued certificate ID:", "CA external request ID:", "Attempts:"]
        {
            #expect(shown.output.contains(label), "jobs show lists \(label)")
        }

        let cancelled = try certbus(db, "jobs", "cancel", String(id))
        #expect(cancelled.status == 0 && cancelled.output.contains("job \(id) cancelled"))
        let again = try certbus(db, "jobs", "cancel", String(id))
        #expect(again.status == 1 && again.output.contains("already CANCELLED"))
        let retried = try certbus(db, "jobs", "retry", String(id))
        #expect(retried.status == 0 && retried.output.contains("queued again"))
        #expect(try c.status(id) == "QUEUED")
        #expect(try c.value("SELECT count(*) AS v FROM certbus.audit_log WHERE action IN ('JOB_CANCELLED', 'JOB_RETRIED')", as: Int.self) == 2)
    }

    @Test func badInputIsRefusedAndChangesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let cases: [([String], Int32, String)] = [
            (["jobs", "enqueue", "MAKE_COFFEE"], 1, "unknown job kind 'MAKE_COFFEE'"),
            (["jobs", "enqueue", "no-such kind"], 2, "is not a job kind"),
            (["jobs", "enqueue", "NOOP", "--payload", "{not json"], 1, "not valid JSON"),
            (["jobs", "enqueue", "NOOP", "--payload", String(repeating: "x", count: 10) + "]"], 1, "not valid JSON"),
            (["jobs", "enqueue", "REVOKE_CERT", "--payload", "{}"], 1, #"needs the field "certificate_id""#),
            (["jobs", "enqueue", "NOOP", "--priority", "9999"], 1, "priority must be between 0 and 1000"),
            (["jobs", "enqueue", "NOOP", "--run-at", "next tuesday"], 2, "--run-at wants"),
            (["jobs", "list", "--status", "DONE"], 2, "unknown job status 'DONE'"),
            (["jobs", "list", "--since", "yesterday"], 2, "--since wants"),
            (["jobs", "show", "424242"], 1, "no job with id 424242"),
            (["jobs", "show", "abc"], 2, "int"),
            (["jobs", "retry", "424242"], 1, "no job with id 424242"),
            (["jobs", "cancel", "424242"], 1, "no job with id 424242"),
            (["worker", "--kinds", "INSTALL_CERT"], 2, "no handler for INSTALL_CERT"),
            (["worker", "--concurrency", "0"], 2, "--concurrency"),
            (["worker", "--batch-size", "0"], 2, "--batch-size must be between 1 and 1000"),
            (["worker", "--batch-size", "1001"], 2, "--batch-size must be between 1 and 1000"),
        ]
        for (arguments, status, message) in cases {
            let result = try ChildProcess.run(arguments + ["--database-url", db.connectionString])
            #expect(result.status == status, "certbus \(arguments.joined(separator: " ")): \(result.output)")
            #expect(result.output.contains(message), "certbus \(arguments.joined(separator: " ")): \(result.output)")
        }
        #expect(try c.value("SELECT count(*) AS v FROM certbus.jobs", as: Int.self) == 0)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.audit_log", as: Int.self) == 0)
        // A unique job twice: the second is refused, naming the first.
        #expect(try certbus(db, "jobs", "enqueue", "NOOP", "--unique-key", "once").status == 0)
        let second = try certbus(db, "jobs", "enqueue", "NOOP", "--unique-key", "once")
        #expect(second.status == 1 && second.output.contains("already queued or running"))
        #expect(try c.value("SELECT count(*) AS v FROM certbus.jobs", as: Int.self) == 1)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.audit_log", as: Int.self) == 1)
    }
}
