import CertbusBus
import CertbusTesting
import Foundation
import Postgres
import Testing

/// Advisory-lock leadership and the scheduler of periodic tasks.
@Suite struct LeadershipTests {
    @Test func onlyOneHolderUntilResigned() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let a = Leadership(name: "test", configuration: db.configuration())
        let b = Leadership(name: "test", configuration: db.configuration())
        let other = Leadership(name: "another", configuration: db.configuration())
        #expect(a.refresh())
        #expect(!b.refresh())
        #expect(a.refresh(), "a leader stays leader on refresh")
        #expect(other.refresh(), "different names do not compete")
        #expect(try b.whileLeading { _ in 1 } == nil, "a non-leader does not run leader work")
        #expect(try a.whileLeading { try $0.query("SELECT 7 AS n")[0].decode("n", as: Int.self) } == 7)
        a.resign()
        #expect(!a.isLeader)
        #expect(b.refresh())
        #expect(!a.refresh())
        b.resign()
        other.resign()
    }

    @Test func leadershipIsLostWithItsConnection() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let a = Leadership(name: "test", configuration: db.configuration(applicationName: "leader-a"))
        let b = Leadership(name: "test", configuration: db.configuration())
        #expect(a.refresh())
        let admin = try db.connect()
        try admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'leader-a'")
        // The lock died with the session: b can take it, and a finds out at its next refresh.
        #expect(eventually { b.refresh() })
        #expect(!a.refresh())
        #expect(!a.isLeader)
        b.resign()
    }

    @Test func schedulerRunsTasksOnlyInTheLeader() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let admin = try db.connect()
        try admin.execute("CREATE TABLE task_runs (scheduler text NOT NULL, at timestamptz NOT NULL DEFAULT clock_timestamp())")
        func make(_ id: String) -> Scheduler {
            Scheduler(
                name: "scheduler-\(id)", configuration: db.configuration(), leadershipName: "test-scheduler",
                tasks: [RecordingTask(tag: id)], leadershipCheckInterval: 0.1, log: .silent)
        }
        let first = make("first")
        let second = make("second")
        try first.start()
        #expect(eventually { first.isLeader })
        try second.start()
        #expect(try eventually { try runs(admin, "first") >= 3 })
        #expect(try runs(admin, "second") == 0, "the follower never runs the task")
        #expect(!second.isLeader)
        #expect(first.lastRuns().first?.summary == "recorded first")
        first.stop(grace: 5)
        // The follower takes over once the leader is gone.
        #expect(try eventually { try runs(admin, "second") >= 1 })
        #expect(second.isLeader)
        second.stop(grace: 5)
    }

    @Test func failingTaskIsReportedAndRetried() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let scheduler = Scheduler(
            configuration: db.configuration(), leadershipName: "test-failing", tasks: [FailingTask()],
            leadershipCheckInterval: 0.1, log: .silent)
        try scheduler.start()
        defer { scheduler.stop(grace: 5) }
        #expect(eventually { scheduler.lastRuns().first?.error?.contains("no_such_table") == true })
        #expect(scheduler.isLeader, "a task's SQL error does not cost the leadership")
    }

    private func runs(_ c: Connection, _ scheduler: String) throws -> Int {
        try c.query("SELECT count(*) AS n FROM task_runs WHERE scheduler = $1", [scheduler])[0].decode("n", as: Int.self)
    }
}

private struct RecordingTask: PeriodicTask {
    var tag: String
    var name: String { "recording" }
    var interval: Double { 0.05 }
    func run(_ connection: Connection) throws -> String {
        try connection.execute("INSERT INTO task_runs (scheduler) VALUES ($1)", [tag])
        return "recorded \(tag)"
    }
}

private struct FailingTask: PeriodicTask {
    var name: String { "failing" }
    var interval: Double { 0.05 }
    func run(_ connection: Connection) throws -> String {
        try connection.execute("SELECT * FROM no_such_table")
        return "unreachable"
    }
}
