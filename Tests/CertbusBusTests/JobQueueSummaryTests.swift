import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

/// `JobQueueSummary` (what `certbus jobs watch` shows): the change rules, and the counts read
/// from a database of known jobs.
///
/// Database: `readsCountsPerKindAndRecentFailures` uses its own TestDatabase, dropped at the end.
@Suite("Job queue summary")
struct JobQueueSummaryTests {
    typealias Counts = JobQueueSummary.KindCounts

    @Test func waitingLongerIsNotAChangeButEveryCountIs() {
        let t = Date(timeIntervalSince1970: 1000)
        let old = JobQueueSummary(kinds: [Counts(kind: "A", due: 1, oldestDueSeconds: 1), Counts(kind: "B", failed: 1)], failures: [])
        #expect(JobQueueSummary(kinds: [Counts(kind: "A", due: 1, oldestDueSeconds: 30), Counts(kind: "B", failed: 1)], failures: [])
            .changedKinds(since: old).isEmpty)
        let new = JobQueueSummary(
            kinds: [Counts(kind: "A", due: 1, running: 1), Counts(kind: "C", scheduled: 1)],
            failures: [.init(jobId: 1, kind: "A", attempt: 1, error: "x", completedAt: t)])
        #expect(new.changedKinds(since: old).map(\.kind) == ["A", "B", "C"])
        #expect(new.changedKinds(since: old).first { $0.kind == "B" } == Counts(kind: "B"))  // gone: shown as zeros
        #expect(new.newFailures(since: old).map(\.jobId) == [1])
        #expect(new.newFailures(since: new).isEmpty)
        // The same job failing again after an operator's retry is a new failure.
        let again = JobQueueSummary(kinds: new.kinds, failures: [.init(jobId: 1, kind: "A", attempt: 2, error: "x", completedAt: t + 60)] + new.failures)
        #expect(again.newFailures(since: new).map(\.attempt) == [2])
    }

    @Test func readsCountsPerKindAndRecentFailures() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        defer { c.close() }
        try c.execute("INSERT INTO certbus.jobs (kind, name, run_at) VALUES ('NOOP', 'due', now() - interval '1 minute'), ('NOOP', 'later', now() + interval '1 hour')")
        try c.execute(
            """
            INSERT INTO certbus.jobs (kind, name, status, attempt, max_attempts, started_at, locked_by, lease_expires_at)
            VALUES ('NOOP', 'running', 'RUNNING', 1, 3, now(), 'test:1:1', now() + interval '1 hour')
            """)
        for (name, age) in [("old", "3 hours"), ("recent", "1 minute")] {
            try c.execute(
                """
                INSERT INTO certbus.jobs (kind, name, payload, status, attempt, max_attempts, started_at, completed_at, error)
                VALUES ('ISSUE_CERT', $1, jsonb_build_object('request_id', gen_random_uuid()), 'FAILED', 2, 2,
                        now() - $2::interval, now() - $2::interval, 'boom ' || $1)
                """, [name, age])
        }
        try c.execute(
            "INSERT INTO certbus.jobs (kind, name, status, attempt, max_attempts, started_at, completed_at) VALUES ('NOOP', 'ok', 'SUCCESS', 1, 1, now(), now())")
        let summary = try JobQueueSummary.read(on: c, failuresSince: Date().addingTimeInterval(-3600))
        #expect(summary.kinds.map(\.kind) == ["ISSUE_CERT", "NOOP"])
        let noop = try #require(summary.kinds.last)
        #expect(noop.due == 1 && noop.scheduled == 1 && noop.running == 1 && noop.failed == 0)
        #expect((noop.oldestDueSeconds ?? 0) >= 59)
        #expect(summary.kinds.first == Counts(kind: "ISSUE_CERT", failed: 2))
        #expect(summary.failures.map(\.error) == ["boom recent"])
        let only = try JobQueueSummary.read(on: c, kinds: [.noop], failuresSince: Date().addingTimeInterval(-86_400))
        #expect(only.kinds.map(\.kind) == ["NOOP"])
        #expect(only.failures.isEmpty)
    }
}
