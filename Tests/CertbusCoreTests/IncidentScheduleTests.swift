import CertbusCore
import Foundation
import Testing

@Suite struct IncidentScheduleTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func candidates(_ count: Int, endpoints: (Int) -> Int = { _ in 0 }) -> [IncidentSchedule.Candidate] {
        (0..<count).map { index in
            IncidentSchedule.Candidate(
                id: UUID(uuidString: String(format: "00000000-0000-0000-0000-%012d", index))!,
                notAfter: now.addingTimeInterval(Double(1000 - index) * 3600), endpoints: endpoints(index))
        }
    }

    @Test func mostExposedFirstThenEarliestExpiry() throws {
        let set = candidates(4, endpoints: { $0 == 1 ? 3 : ($0 == 2 ? 1 : 0) })
        let plan = try IncidentSchedule.plan(set, now: now, deadline: now.addingTimeInterval(48 * 3600))
        // 1 (3 endpoints), 2 (1 endpoint), then 3 and 0 by expiry (3 expires before 0).
        #expect(plan.slots.map(\.id) == [set[1].id, set[2].id, set[3].id, set[0].id])
        #expect(plan.slots.map(\.position) == [0, 1, 2, 3])
        // Ties by id: the same set always gets the same plan, whatever the input order.
        let again = try IncidentSchedule.plan(set.reversed(), now: now, deadline: now.addingTimeInterval(48 * 3600))
        #expect(again == plan)
    }

    @Test func priorityBandFollowsTheTimeLeftAndRoutineWorkComesAfter() throws {
        #expect(IncidentSchedule.priorityBase(timeLeft: 1800) == 10)
        #expect(IncidentSchedule.priorityBase(timeLeft: 48 * 3600) == 40)
        #expect(IncidentSchedule.priorityBase(timeLeft: 12 * 3600) == 20)
        #expect(IncidentSchedule.priorityBase(timeLeft: 30 * 86400) == 60)
        let plan = try IncidentSchedule.plan(candidates(100), now: now, deadline: now.addingTimeInterval(20 * 3600))
        #expect(plan.slots.first?.priority == 20)
        #expect(plan.slots.last?.priority == 29)
        #expect(plan.slots.map(\.priority) == plan.slots.map(\.priority).sorted())
        #expect(plan.slots.allSatisfy { $0.priority < 100 })
    }

    @Test func oneWaveStartsAtOnce() throws {
        let plan = try IncidentSchedule.plan(candidates(500), now: now, deadline: now.addingTimeInterval(7 * 86400))
        #expect(plan.waves == 1)
        #expect(plan.spread == 0)
        #expect(plan.slots.allSatisfy { $0.runAt == now && $0.wave == 0 })
        #expect(plan.margin == 7 * 86400)
    }

    @Test func wavesSpreadOverAQuarterOfTheTimeAtMostAnHour() throws {
        // 1,200 certificates, 2 days: 3 waves over the default spread of one hour.
        let plan = try IncidentSchedule.plan(candidates(1200), now: now, deadline: now.addingTimeInterval(48 * 3600))
        #expect(plan.waves == 3)
        #expect(plan.spread == 3600)
        #expect(Set(plan.slots.map(\.runAt)) == [now, now.addingTimeInterval(1200), now.addingTimeInterval(2400)])
        #expect(plan.slots.filter { $0.wave == 2 }.count == 200)
        #expect(plan.lastStart == now.addingTimeInterval(2400))
        // A deadline of two hours: a quarter of it, 30 minutes.
        let tight = try IncidentSchedule.plan(candidates(1200), now: now, deadline: now.addingTimeInterval(7200))
        #expect(tight.spread == 1800)
        #expect(tight.slots.map(\.runAt).max()! < now.addingTimeInterval(1800))
    }

    @Test func anExplicitSpreadIsUsedWithinHalfTheTimeLeft() throws {
        let plan = try IncidentSchedule.plan(candidates(1000), now: now, deadline: now.addingTimeInterval(3600), spread: 0)
        #expect(plan.slots.allSatisfy { $0.runAt == now })
        let half = try IncidentSchedule.plan(candidates(1000), now: now, deadline: now.addingTimeInterval(3600), spread: 1800)
        #expect(half.lastStart == now.addingTimeInterval(900))
        #expect(throws: IncidentScheduleError.self) {
            try IncidentSchedule.plan(candidates(10), now: now, deadline: now.addingTimeInterval(3600), spread: 1801)
        }
        #expect(throws: IncidentScheduleError.self) {
            try IncidentSchedule.plan(candidates(10), now: now, deadline: now.addingTimeInterval(3600), spread: -1)
        }
    }

    @Test func aDeadlineNotInTheFutureIsRefused() {
        #expect {
            try IncidentSchedule.plan(candidates(3), now: now, deadline: now)
        } throws: { error in
            "\(error)".contains("is not in the future")
        }
    }

    @Test func anEmptySetHasAnEmptyPlan() throws {
        let plan = try IncidentSchedule.plan([], now: now, deadline: now.addingTimeInterval(60))
        #expect(plan.slots.isEmpty)
        #expect(plan.waves == 1)
        #expect(plan.lastStart == now)
    }
}
