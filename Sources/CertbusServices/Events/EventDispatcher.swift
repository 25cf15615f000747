import CertbusCore
import Foundation
import Postgres

/// What one dispatch pass did.
public struct DispatchSummary: Sendable, Equatable {
    /// Events marked DISPATCHED.
    public var events = 0
    /// Trigger runs made (first attempts and retries).
    public var runs = 0
    /// Of those, runs that failed (now RETRYING or FAILED).
    public var failures = 0

    public init(events: Int = 0, runs: Int = 0, failures: Int = 0) {
        self.events = events
        self.runs = runs
        self.failures = failures
    }

    static func + (a: DispatchSummary, b: DispatchSummary) -> DispatchSummary {
        DispatchSummary(events: a.events + b.events, runs: a.runs + b.runs, failures: a.failures + b.failures)
    }
}

/// Runs event triggers. Several dispatchers may run at once (in one process or many): each claims PENDING
/// events with `FOR UPDATE SKIP LOCKED`, so every event is handled by exactly one of them.
///
/// For each claimed event: the triggers that apply (group > RA profile > platform, see `TriggerPrecedence`)
/// whose condition matches the payload run their actions inside a savepoint; each run is recorded in
/// `certbus.event_trigger_runs`. A failed run is rolled back to its savepoint, recorded as RETRYING with
/// backoff (or FAILED when permanent or out of attempts) and the event is still marked DISPATCHED, so a
/// failing action never holds other events back. `retryDueRuns` tries RETRYING runs again.
public struct EventDispatcher: Sendable {
    /// Events claimed per transaction.
    public var batchSize: Int
    /// Attempts per trigger run before it is FAILED.
    public var maxRunAttempts: Int
    /// Delay between attempts of a failed run.
    public var backoff: Backoff
    /// Who is dispatching (recorded on runs; `triggered_by_id` of jobs it enqueues).
    public var identity: String

    public init(batchSize: Int = 100, maxRunAttempts: Int = 5, backoff: Backoff = Backoff(base: 5, maximum: 900),
                identity: String = EventDispatcher.defaultIdentity) {
        self.batchSize = batchSize
        self.maxRunAttempts = maxRunAttempts
        self.backoff = backoff
        self.identity = identity
    }

    /// `event-dispatcher@<host>:<pid>`.
    public static var defaultIdentity: String {
        "event-dispatcher@\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Dispatches PENDING events in batches until none is left unclaimed, then retries due runs.
    public func drain(on connection: Connection) throws -> DispatchSummary {
        var total = DispatchSummary()
        while true {
            let batch = try dispatchBatch(on: connection)
            total = total + batch
            if batch.events < batchSize { break }
        }
        while true {
            let retried = try retryDueRuns(on: connection)
            total = total + retried
            if retried.runs < batchSize { break }
        }
        return total
    }

    /// Claims up to `batchSize` PENDING events (skipping ones other dispatchers hold), runs their triggers and
    /// marks them DISPATCHED, all in one transaction.
    public func dispatchBatch(on connection: Connection) throws -> DispatchSummary {
        try connection.withTransaction { tx in
            let events = try tx.query(
                """
                SELECT \(EventRecord.columns) FROM certbus.events
                 WHERE dispatch_state = 'PENDING' ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [batchSize]
            ).map(EventRecord.init(row:))
            guard !events.isEmpty else { return DispatchSummary() }
            let triggers = try loadTriggers(on: tx, types: Set(events.map(\.type)))
            var summary = DispatchSummary(events: events.count)
            var matchedCounts: [Int] = []
            for event in events {
                let payload = event.payload
                let applicable = TriggerPrecedence.applicable(
                    triggers[event.type] ?? [], scope: \.scope, eventType: event.type, profileId: event.profileId,
                    groupId: event.groupId)
                var matched = 0
                for trigger in applicable {
                    let condition: TriggerCondition
                    do {
                        condition = try trigger.condition()
                    } catch {
                        matched += 1
                        summary.runs += 1
                        summary.failures += 1
                        try record(on: tx, event: event, trigger: trigger, attempt: 1,
                                   outcome: .failure(TriggerRunFailure("condition does not parse: \(error)", permanent: true)))
                        continue
                    }
                    guard condition.matches(payload) else { continue }
                    matched += 1
                    summary.runs += 1
                    let outcome = attempt(trigger: trigger, event: event, payload: payload, on: tx)
                    if case .failure = outcome { summary.failures += 1 }
                    try record(on: tx, event: event, trigger: trigger, attempt: 1, outcome: outcome)
                }
                matchedCounts.append(matched)
            }
            try tx.execute(
                """
                UPDATE certbus.events e SET dispatch_state = 'DISPATCHED', dispatched_at = clock_timestamp(),
                       triggers_matched = u.n
                  FROM unnest($1::bigint[], $2::integer[]) AS u(id, n) WHERE e.id = u.id
                """, [events.map(\.id), matchedCounts])
            return summary
        }
    }

    /// Tries again up to `batchSize` RETRYING trigger runs whose time has come (skipping ones other dispatchers
    /// hold). A run whose trigger was disabled or deleted meanwhile becomes FAILED.
    public func retryDueRuns(on connection: Connection) throws -> DispatchSummary {
        try connection.withTransaction { tx in
            let due = try tx.query(
                """
                SELECT id, event_id, trigger_id, attempts FROM certbus.event_trigger_runs
                 WHERE status = 'RETRYING' AND next_attempt_at <= now()
                 ORDER BY next_attempt_at LIMIT $1 FOR UPDATE SKIP LOCKED
                """, [batchSize])
            var summary = DispatchSummary()
            for row in due {
                let eventId: Int64 = try row.decode("event_id")
                let triggerId: UUID = try row.decode("trigger_id")
                let attemptNumber = try row.decode("attempts", as: Int.self) + 1
                summary.runs += 1
                let event = try EventQueries.find(on: tx, id: eventId)
                let outcome: RunOutcome
                if let triggerRow = try tx.query(
                    "SELECT \(EventTrigger.columns) FROM certbus.event_triggers WHERE id = $1", [triggerId]).firstRow,
                   case let trigger = try EventTrigger(row: triggerRow), trigger.enabled {
                    outcome = attempt(trigger: trigger, event: event, payload: event.payload, on: tx)
                    try record(on: tx, event: event, trigger: trigger, attempt: attemptNumber, outcome: outcome)
                } else {
                    outcome = .failure(TriggerRunFailure("the trigger was disabled before the retry", permanent: true))
                    try tx.execute(
                        """
                        UPDATE certbus.event_trigger_runs SET status = 'FAILED', next_attempt_at = NULL, attempts = $2,
                               error = $3, dispatcher = $4 WHERE id = $1
                        """, [try row.decode("id", as: Int64.self), attemptNumber, "the trigger was disabled before the retry", identity])
                }
                if case .failure = outcome { summary.failures += 1 }
            }
            return summary
        }
    }

    enum RunOutcome {
        case success([PayloadValue])
        case failure(TriggerRunFailure)
    }

    /// Runs a trigger's actions in a savepoint; a failure rolls back to it and leaves the transaction usable.
    func attempt(trigger: EventTrigger, event: EventRecord, payload: PayloadValue, on tx: Connection) -> RunOutcome {
        do {
            let actions: [TriggerAction]
            do {
                actions = try trigger.actions()
            } catch {
                return .failure(TriggerRunFailure("\(error)", permanent: true))
            }
            let runner = TriggerActionRunner(actorId: identity)
            let results = try tx.withSavepoint { sp in
                try runner.run(actions, event: event, trigger: trigger, payload: payload, on: sp)
            }
            return .success(results)
        } catch let failure as TriggerRunFailure {
            return .failure(failure)
        } catch let error as PostgresError {
            return .failure(TriggerRunFailure(error.description, permanent: error.isDataException && !error.isTransient))
        } catch {
            return .failure(TriggerRunFailure("\(error)", permanent: false))
        }
    }

    /// Inserts or updates the run row for (event, trigger).
    func record(on tx: Connection, event: EventRecord, trigger: EventTrigger, attempt: Int, outcome: RunOutcome) throws {
        let status: String
        var nextAttempt: Date?
        var result = "[]"
        var error: String?
        switch outcome {
        case .success(let results):
            status = "SUCCEEDED"
            result = try PostgresJSON(encoding: results).text
        case .failure(let failure):
            error = failure.message
            if failure.isPermanent || attempt >= maxRunAttempts {
                status = "FAILED"
            } else {
                status = "RETRYING"
                nextAttempt = Date().addingTimeInterval(backoff.delay(afterAttempt: attempt))
            }
        }
        try tx.execute(
            """
            INSERT INTO certbus.event_trigger_runs (event_id, trigger_id, status, attempts, next_attempt_at, result, error, dispatcher)
            VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
            ON CONFLICT (event_id, trigger_id) DO UPDATE
               SET status = EXCLUDED.status, attempts = EXCLUDED.attempts, next_attempt_at = EXCLUDED.next_attempt_at,
                   result = EXCLUDED.result, error = EXCLUDED.error, dispatcher = EXCLUDED.dispatcher
            """,
            [event.id, trigger.id, status, attempt, nextAttempt, PostgresJSON(text: result), error, identity])
    }

    /// Enabled triggers of the given types, by type, in position/name order.
    func loadTriggers(on tx: Connection, types: Set<EventType>) throws -> [EventType: [EventTrigger]] {
        let rows = try tx.query(
            """
            SELECT \(EventTrigger.columns) FROM certbus.event_triggers
             WHERE enabled AND event_type = ANY($1::text[]) ORDER BY position, name
            """, [types.map(\.rawValue)])
        var byType: [EventType: [EventTrigger]] = [:]
        for row in rows {
            let trigger = try EventTrigger(row: row)
            byType[trigger.eventType, default: []].append(trigger)
        }
        return byType
    }
}
