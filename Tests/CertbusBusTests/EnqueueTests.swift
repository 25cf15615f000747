import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Enqueueing from Swift and SQL: defaults, per-kind payload rules, unique keys, batches, bad input.
@Suite struct EnqueueTests {
    func jobCount(_ c: Connection) throws -> Int {
        try c.query("SELECT count(*) AS n FROM certbus.jobs")[0].decode("n", as: Int.self)
    }

    @Test func enqueueFillsDefaults() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let id = try JobQueue.enqueue(on: c, NewJob(kind: .noop))
        let row = try c.query("SELECT * FROM certbus.jobs WHERE id = $1", [id])[0]
        #expect(try row.decode("name", as: String.self) == "NOOP")
        #expect(try row.decode("status", as: String.self) == "QUEUED")
        #expect(try row.decode("priority", as: Int.self) == 100)
        #expect(try row.decode("max_attempts", as: Int.self) == 3, "NOOP's default from certbus.job_kinds")
        #expect(try row.decode("attempt", as: Int.self) == 0)
        #expect(try row.decode("queue", as: String.self) == "default")
        #expect(try row.decode("triggered_by_type", as: String.self) == "SYSTEM")
        #expect(try row.decode("triggered_by_id", as: String.self) == "certbus")
        #expect(try row.decode("duration", as: String?.self) == nil)
    }

    @Test func caAndCertificateIdsComeFromThePayload() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let ca = UUID()
        let cert = UUID()
        let refresh = try JobQueue.enqueue(on: c, NewJob(kind: .refreshCA, payloadJSON: #"{"ca_id": "\#(ca)"}"#))
        let revoke = try JobQueue.enqueue(
            on: c,
            NewJob(
                kind: .revokeCertificate, payloadJSON: #"{"certificate_id": "\#(cert)", "reason": "keyCompromise"}"#,
                triggeredBy: .user("alice")))
        #expect(try c.query("SELECT ca_id FROM certbus.jobs WHERE id = $1", [refresh])[0].decode("ca_id", as: UUID.self) == ca)
        let row = try c.query("SELECT * FROM certbus.jobs WHERE id = $1", [revoke])[0]
        #expect(try row.decode("certificate_id", as: UUID.self) == cert)
        #expect(try row.decode("triggered_by_type", as: String.self) == "USER")
        #expect(try row.decode("triggered_by_id", as: String.self) == "alice")
    }

    @Test func unknownKindIsRefusedAndNothingIsStored() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let error = try #require(throws: JobQueueError.self) {
            try JobQueue.enqueue(on: c, NewJob(kind: JobKind("MAKE_COFFEE")))
        }
        #expect(error.reason == .unknownKind)
        #expect(error.message.contains("unknown job kind 'MAKE_COFFEE'"))
        #expect(error.message.contains("ISSUE_CERT"), "the message lists the known kinds")
        #expect(try jobCount(c) == 0)
        // The same from SQL.
        let sqlError = try #require(throws: PostgresError.self) {
            try c.query("SELECT certbus.enqueue_job('make_coffee')")
        }
        #expect(sqlError.sqlState == "22023")
        #expect(try jobCount(c) == 0)
    }

    @Test func badPayloadsAreRefusedWithTheReason() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let cert = UUID().uuidString
        let cases: [(NewJob, String)] = [
            (NewJob(kind: .noop, payloadJSON: #"{"a": "#), "not valid JSON"),
            (NewJob(kind: .noop, payloadJSON: "[1, 2]"), "must be a JSON object"),
            (NewJob(kind: .noop, payloadJSON: "\"text\""), "must be a JSON object"),
            (NewJob(kind: .noop, payloadJSON: #"{"blob": "\#(String(repeating: "x", count: 70_000))"}"#), "the limit is 65536 bytes"),
            (NewJob(kind: .revokeCertificate, payloadJSON: #"{"certificate_id": "\#(cert)"}"#), #"needs the field "reason" (string)"#),
            (NewJob(kind: .revokeCertificate, payloadJSON: #"{"certificate_id": "\#(cert)", "reason": null}"#), #"needs the field "reason""#),
            (NewJob(kind: .revokeCertificate, payloadJSON: #"{"certificate_id": "not-a-uuid", "reason": "superseded"}"#), #""certificate_id" must be a uuid"#),
            (NewJob(kind: .revokeCertificate, payloadJSON: #"{"certificate_id": "\#(cert)", "reason": 7}"#), #""reason" must be a string"#),
            (NewJob(kind: .refreshCA), #"needs the field "ca_id" (uuid)"#),
        ]
        for (job, expected) in cases {
            let error = try #require(throws: JobQueueError.self) { try JobQueue.enqueue(on: c, job) }
            #expect(error.reason == .invalidPayload)
            #expect(error.message.contains(expected), "\(error.message) should say \(expected)")
        }
        #expect(try jobCount(c) == 0)
    }

    @Test func outOfRangeFieldsAreRefused() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let cases: [(NewJob, String)] = [
            (NewJob(kind: .noop, priority: 5000), "priority must be between 0 and 1000"),
            (NewJob(kind: .noop, priority: -1), "priority must be between 0 and 1000"),
            (NewJob(kind: .noop, queue: "Bad Queue"), "queue name"),
            (NewJob(kind: .noop, maxAttempts: 0), "max attempts"),
            (NewJob(kind: .noop, uniqueKey: ""), "unique key"),
            (NewJob(kind: .noop, triggeredBy: Actor(.user, "")), "triggered-by id"),
        ]
        for (job, expected) in cases {
            let error = try #require(throws: JobQueueError.self) { try JobQueue.enqueue(on: c, job) }
            #expect(error.reason == .invalidArgument)
            #expect(error.message.contains(expected), "\(error.message) should say \(expected)")
        }
        #expect(try jobCount(c) == 0)
    }

    @Test func sqlLookingStringsAreStoredVerbatim() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let nasty = "x'); DROP TABLE certbus.jobs; -- \\ \" $1 %s ☃"
        let payload = try PostgresJSON(object: ["note": nasty])
        let id = try JobQueue.enqueue(
            on: c, NewJob(kind: .noop, payloadJSON: payload.text, name: nasty, uniqueKey: nasty, triggeredBy: .user(nasty)))
        let row = try c.query("SELECT name, unique_key, triggered_by_id, payload ->> 'note' AS note FROM certbus.jobs WHERE id = $1", [id])[0]
        for column in ["name", "unique_key", "triggered_by_id", "note"] {
            #expect(try row.decode(column, as: String.self) == nasty)
        }
        #expect(try jobCount(c) == 1)
    }

    @Test func uniqueKeyAllowsOneJobInFlight() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let ca = UUID()
        let job = NewJob(kind: .refreshCA, payloadJSON: #"{"ca_id": "\#(ca)"}"#, uniqueKey: "ca:\(ca)")
        let first = try JobQueue.enqueue(on: c, job)
        let error = try #require(throws: JobQueueError.self) { try JobQueue.enqueue(on: c, job) }
        #expect(error.reason == .duplicate)
        #expect(error.jobId == first)
        #expect(error.message.contains("already queued or running (job \(first))"))
        #expect(try JobQueue.enqueueIfAbsent(on: c, job) == nil)
        // The same key for another kind is a different job.
        let other = NewJob(kind: .noop, uniqueKey: "ca:\(ca)")
        #expect(try JobQueue.enqueueIfAbsent(on: c, other) != nil)
        // From SQL: the function raises 23505 naming the existing job.
        let sqlError = try #require(throws: PostgresError.self) {
            try c.query(
                "SELECT certbus.enqueue_job('CA_REFRESH', $1::jsonb, p_unique_key => $2)", [job.payload.text, "ca:\(ca)"])
        }
        #expect(sqlError.isUniqueViolation)
        #expect(sqlError.constraint == "jobs_unique_key")
        #expect(try jobCount(c) == 2)
        // Once the first job is finished, the key is free again.
        try c.execute("UPDATE certbus.jobs SET status = 'SUCCESS', completed_at = now() WHERE id = $1", [first])
        let again = try JobQueue.enqueue(on: c, job)
        #expect(again > first)
    }

    @Test func batchEnqueueKeepsOrderAndSkipsDuplicates() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        let existing = try JobQueue.enqueue(on: c, NewJob(kind: .noop, uniqueKey: "taken"))
        var batch = (0..<12_000).map { NewJob(kind: .noop, payloadJSON: #"{"n": \#($0)}"#, priority: $0 % 7) }
        batch[3] = NewJob(kind: .noop, uniqueKey: "taken")
        batch[5] = NewJob(kind: .noop, uniqueKey: "fresh")
        batch[6000] = NewJob(kind: .noop, uniqueKey: "fresh")
        let ids = try c.withTransaction { try JobQueue.enqueue(on: $0, batch: batch) }
        #expect(ids.count == batch.count)
        #expect(ids[3] == nil, "already queued before the batch")
        #expect(ids[5] != nil)
        #expect(ids[6000] == nil, "repeated later in the batch")
        let inserted = ids.compactMap { $0 }
        #expect(inserted.count == batch.count - 2)
        #expect(inserted == inserted.sorted(), "ids follow input order")
        #expect(!inserted.contains(existing))
        // Spot-check that ids map to the right payloads.
        for i in [0, 1, 4999, 5000, 11_999] {
            let n = try c.query("SELECT (payload ->> 'n')::int AS n FROM certbus.jobs WHERE id = $1", [ids[i]!])[0]
            #expect(try n.decode("n", as: Int.self) == i)
        }
    }

    @Test func batchWithOneBadJobChangesNothing() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        var batch = (0..<50).map { _ in NewJob(kind: .noop) }
        batch[20] = NewJob(kind: .revokeCertificate, payloadJSON: "{}")
        let error = try #require(throws: JobQueueError.self) { try JobQueue.enqueue(on: c, batch: batch) }
        #expect(error.reason == .invalidPayload)
        #expect(error.message.contains("REVOKE_CERT"))
        batch[20] = NewJob(kind: .noop, payloadJSON: "{oops")
        let parseError = try #require(throws: JobQueueError.self) { try JobQueue.enqueue(on: c, batch: batch) }
        #expect(parseError.message.contains("job 21 of the batch"))
        #expect(try jobCount(c) == 0)
    }

    @Test func otherAreasCanRegisterKindsAndValidators() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try c.execute(
            """
            CREATE FUNCTION certbus.test_even_only(p jsonb) RETURNS text LANGUAGE sql AS
            $$ SELECT CASE WHEN (p ->> 'n')::int % 2 = 0 THEN NULL ELSE 'n must be even' END $$
            """)
        try c.execute(
            """
            INSERT INTO certbus.job_kinds (kind, description, required_fields, validator)
            VALUES ('TEST_EVEN', 'test kind', '{"n": "integer"}', 'certbus.test_even_only')
            """)
        #expect(throws: PostgresError.self) {
            try c.execute("INSERT INTO certbus.job_kinds (kind, description, required_fields) VALUES ('BAD_TYPES', 'x', '{\"n\": \"int\"}')")
        }
        _ = try JobQueue.enqueue(on: c, NewJob(kind: JobKind("TEST_EVEN"), payloadJSON: #"{"n": 4}"#))
        let odd = try #require(throws: JobQueueError.self) {
            try JobQueue.enqueue(on: c, NewJob(kind: JobKind("TEST_EVEN"), payloadJSON: #"{"n": 3}"#))
        }
        #expect(odd.message.contains("n must be even"))
        let fractional = try #require(throws: JobQueueError.self) {
            try JobQueue.enqueue(on: c, NewJob(kind: JobKind("TEST_EVEN"), payloadJSON: #"{"n": 2.5}"#))
        }
        #expect(fractional.message.contains("must be an integer"))
    }
}
