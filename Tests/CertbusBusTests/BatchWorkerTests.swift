@testable import CertbusBus
import CertbusCore
import CertbusTesting
import Foundation
import Postgres
import Testing

/// A batch handler for tests: finishes its jobs together (fenced, with one `noop_runs` row each
/// in the same transaction), defers jobs whose payload says "alone" to `run`, and fails the whole
/// batch on the first attempt of a job whose payload says "explode".
struct RecordingBatchHandler: BatchJobHandler {
    var kind: JobKind
    var maximumBatchSize: Int
    let batches: Locked<[Int]>

    func run(_ job: Job, context: JobContext) throws -> JobCompletion {
        let id = job.id, attempt = job.attempt, worker = context.workerId
        return JobCompletion(output: #"{"alone": true}"#) { c in
            try c.execute("INSERT INTO certbus.noop_runs (job_id, attempt, worker_id, phase) VALUES ($1, $2, $3, 'run')", [id, attempt, worker])
        }
    }

    func runBatch(_ jobs: [ClaimedJob], context: JobBatchContext) throws -> JobBatchOutcome {
        batches.withLock { $0.append(jobs.count) }
        func says(_ word: String, _ job: ClaimedJob) -> Bool { String(decoding: job.job.payload, as: UTF8.self).contains(word) }
        if jobs.contains(where: { says("explode", $0) && $0.job.attempt == 1 }) {
            throw JobFailure.retryable("exploded")
        }
        var outcome = JobBatchOutcome()
        outcome.deferred = jobs.filter { says("alone", $0) }
        let together = jobs.filter { !says("alone", $0) }
        let finished = try context.database.withConnection { c in
            try c.withTransaction { tx in
                let changed = try JobQueue.finish(on: tx, workerId: context.workerId, together.map {
                    AttemptResult(jobId: $0.job.id, attempt: $0.job.attempt, outcome: .success(output: nil, issuedCertificateId: nil, caRequestId: nil))
                })
                let mine = together.filter { changed.contains($0.job.id) }
                try tx.execute(
                    "INSERT INTO certbus.noop_runs (job_id, attempt, worker_id, phase) SELECT unnest($1::bigint[]), unnest($2::int[]), $3, 'commit'",
                    [mine.map(\.job.id), mine.map(\.job.attempt), context.workerId])
                return changed
            }
        }
        for job in together {
            if finished.contains(job.job.id) { outcome.succeeded.append(job.job.id) } else { outcome.discarded.append(job.job.id) }
        }
        return outcome
    }
}

/// Workers running jobs of a batch kind: grouping (pure), and batches end to end against a real
/// database — exactly once, deferred jobs run alone, a failing batch retried job by job.
///
/// Database: each test's own TestDatabase (template copy on the shared test cluster), dropped at the end.
@Suite struct BatchWorkerTests {
    static func claimed(_ kinds: [String]) -> [ClaimedJob] {
        kinds.enumerated().map { i, kind in
            ClaimedJob(job: Job(id: Int64(i + 1), kind: JobKind(kind), name: kind, payload: Data("{}".utf8), attempt: 1, maxAttempts: 3,
                                triggeredBy: .system("test")),
                       workerId: "w", startedAt: Date(), leaseExpiresAt: Date().addingTimeInterval(30))
        }
    }

    @Test func claimedJobsAreGroupedIntoBatchesInClaimOrder() {
        let handlers = HandlerRegistry([
            RecordingBatchHandler(kind: JobKind("BATCHY"), maximumBatchSize: 3, batches: Locked([])), NoopHandler(),
        ])
        let items = WorkItem.group(Self.claimed(["BATCHY", "NOOP", "BATCHY", "BATCHY", "BATCHY", "NOOP", "BATCHY"]), handlers: handlers)
        let shape = items.map { item -> String in
            switch item {
            case .single(let job): return "single \(job.job.id)"
            case .batch(_, let jobs): return "batch \(jobs.map { String($0.job.id) }.joined(separator: ","))"
            }
        }
        #expect(shape == ["batch 1,3,4", "single 2", "batch 5,7", "single 6"])
        #expect(WorkItem.batchSlack(after: items) == 2)
        #expect(WorkItem.batchSlack(after: WorkItem.group(Self.claimed(["NOOP", "NOOP"]), handlers: handlers)) == 0)
        // A batch handler with a maximum of 1 runs its jobs alone.
        let alone = HandlerRegistry([RecordingBatchHandler(kind: JobKind("BATCHY"), maximumBatchSize: 1, batches: Locked([]))])
        #expect(WorkItem.group(Self.claimed(["BATCHY", "BATCHY"]), handlers: alone).allSatisfy {
            if case .single = $0 { true } else { false }
        })
    }

    @Test func aWorkerRunsBatchKindsInBatchesExactlyOnce() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try registerKind(c, "BATCHY")
        let together = try JobQueue.enqueue(on: c, batch: (0..<200).map { _ in NewJob(kind: JobKind("BATCHY")) })
        let alone = try JobQueue.enqueue(on: c, batch: (0..<5).map { _ in NewJob(kind: JobKind("BATCHY"), payloadJSON: #"{"alone": true}"#) })
        _ = try JobQueue.enqueue(on: c, batch: (0..<50).map { _ in NewJob(kind: .noop) })
        let batches = Locked<[Int]>([])
        let worker = try Worker(
            configuration: db.configuration(),
            handlers: HandlerRegistry([RecordingBatchHandler(kind: JobKind("BATCHY"), maximumBatchSize: 40, batches: batches), NoopHandler()]),
            options: testOptions(concurrency: 3), log: .silent)
        try worker.start()
        #expect(try eventually { try c.value("SELECT count(*) AS v FROM certbus.jobs WHERE status = 'SUCCESS'", as: Int.self) == 255 })
        worker.stop(grace: 5)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.noop_runs WHERE phase = 'commit'", as: Int.self) == 200)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.noop_runs WHERE phase = 'run'", as: Int.self) == 5)
        #expect(try c.value("SELECT count(DISTINCT job_id) AS v FROM certbus.noop_runs", as: Int.self) == 205)
        #expect(try c.value("SELECT count(*) AS v FROM certbus.job_attempts WHERE outcome = 'SUCCESS' AND attempt = 1", as: Int.self) == 255)
        #expect(try together.allSatisfy { try c.status($0!) == "SUCCESS" } && alone.allSatisfy { try c.status($0!) == "SUCCESS" })
        let sizes = batches.current
        #expect(sizes.reduce(0, +) == 205)
        #expect(sizes.allSatisfy { $0 <= 40 })
        #expect(sizes.contains { $0 > 3 }, "claims grow beyond the free threads while batch kinds flow: \(sizes)")
        let statistics = worker.statistics
        #expect(statistics.succeeded == 255 && statistics.failed == 0 && statistics.discarded == 0)
    }

    @Test func aBatchThatThrowsIsRecordedAsARetryableFailureOfEachJob() throws {
        let db = try TestDatabase.create()
        defer { db.drop() }
        let c = try db.connect()
        try registerKind(c, "BATCHY", maxAttempts: 3)
        let ids = try JobQueue.enqueue(on: c, batch: [NewJob(kind: JobKind("BATCHY"), payloadJSON: #"{"explode": true}"#)]
                                          + (0..<9).map { _ in NewJob(kind: JobKind("BATCHY")) }).map { $0! }
        let batches = Locked<[Int]>([])
        let options = testOptions(concurrency: 1)
        let worker = try Worker(
            configuration: db.configuration(),
            handlers: HandlerRegistry([RecordingBatchHandler(kind: JobKind("BATCHY"), maximumBatchSize: 10, batches: batches)]),
            options: options, log: .silent)
        try worker.start()
        #expect(try eventually { try ids.allSatisfy { try c.status($0) == "SUCCESS" } })
        worker.stop(grace: 5)
        // Every job of the failed batch has its RETRY attempt, then succeeded on a later attempt, once.
        let exploded = try ids.filter { try c.outcomes($0).first == "RETRY" }
        #expect(exploded.contains(ids[0]))
        for id in exploded { #expect(try c.outcomes(id) == ["RETRY", "SUCCESS"]) }
        #expect(try c.value("SELECT count(*) AS v FROM certbus.noop_runs", as: Int.self) == 10)
        #expect(try c.value("SELECT count(DISTINCT job_id) AS v FROM certbus.noop_runs", as: Int.self) == 10)
    }
}
