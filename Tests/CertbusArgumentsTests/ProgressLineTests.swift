import CertbusArguments
import Foundation
import Testing

@Suite("Progress line")
struct ProgressLineTests {
    /// A clock the test moves by hand.
    final class ManualClock: @unchecked Sendable {
        private let lock = NSLock()
        private var now: TimeInterval = 0
        func advance(_ seconds: TimeInterval) { lock.withLock { now += seconds } }
        var reading: @Sendable () -> TimeInterval { { [self] in lock.withLock { now } } }
    }

    @Test func drawsInPlaceOnATerminalAndClearsWhenFinished() {
        let output = CapturedOutput()
        let clock = ManualClock()
        let line = ProgressLine(output: output, isTerminal: true, quiet: false, clock: clock.reading)
        line.update("10 / 100")
        clock.advance(1)
        line.update("5")
        line.finish()
        // The padding blanks what the longer line left; clearing needs only the last text's width.
        #expect(output.text == "\r10 / 100" + "\r5       " + "\r \r")
    }

    @Test func throttlesRedrawsUnlessForced() {
        let output = CapturedOutput()
        let clock = ManualClock()
        let line = ProgressLine(output: output, isTerminal: true, quiet: false, minimumInterval: 0.1, clock: clock.reading)
        line.update("a")
        line.update("b")  // same instant: skipped
        clock.advance(0.05)
        line.update("c")  // too soon: skipped
        line.update("d", force: true)
        clock.advance(0.2)
        line.update("e")
        #expect(output.text == "\ra\rd\re")
    }

    @Test(arguments: [(false, false), (true, true), (false, true)])
    func writesNothingWhenQuietOrNotATerminal(isTerminal: Bool, quiet: Bool) {
        let output = CapturedOutput()
        let line = ProgressLine(output: output, isTerminal: isTerminal, quiet: quiet)
        line.update("1 / 2", force: true)
        line.finish()
        #expect(output.text.isEmpty)
        #expect(!line.isDrawing)
    }

    @Test func describesDoneTotalRateAndTimeLeft() {
        #expect(ProgressLine.describe(done: 1234, total: 10_000, elapsed: 2, unit: "jobs")
            == "1,234 / 10,000 jobs (12 %) · 617/s · about 15 s left")
        #expect(ProgressLine.describe(done: 0, total: 10, elapsed: 0) == "0 / 10 (0 %)")
        #expect(ProgressLine.describe(done: 10, total: 10, elapsed: 5) == "10 / 10 (100 %) · 2/s")
        #expect(ProgressLine.describe(done: 500, total: nil, elapsed: 10, unit: "rows") == "500 rows · 50/s")
    }

    @Test func formatsNumbersAndDurations() {
        #expect(ProgressLine.grouped(0) == "0")
        #expect(ProgressLine.grouped(999) == "999")
        #expect(ProgressLine.grouped(1000) == "1,000")
        #expect(ProgressLine.grouped(-1_234_567) == "-1,234,567")
        #expect(ProgressLine.duration(0.2) == "1 s")
        #expect(ProgressLine.duration(150) == "2 min 30 s")
        #expect(ProgressLine.duration(7200) == "2 h 0 min")
    }
}
