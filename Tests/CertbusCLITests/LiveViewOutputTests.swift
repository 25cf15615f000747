import CertbusArguments
import CertbusBus
import Foundation
import Testing

@testable import certbus

@Suite("jobs watch output and command progress")
struct LiveViewOutputTests {
    static let now = Date(timeIntervalSince1970: 1_800_000_000)
    static let before = JobQueueSummary(
        kinds: [.init(kind: "ISSUE_CERT", due: 1, oldestDueSeconds: 5), .init(kind: "NOOP", running: 2)], failures: [])
    static let after = JobQueueSummary(
        kinds: [.init(kind: "ISSUE_CERT", due: 1, oldestDueSeconds: 9), .init(kind: "RENEW_CERT", scheduled: 4)],
        failures: [.init(jobId: 7, kind: "RENEW_CERT", attempt: 5, error: "CA down\nretry later", completedAt: now)])

    @Test func linesModePrintsTheTableOnceThenOneLinePerChange() throws {
        let first = try JobsWatchOutput.render(Self.before, after: nil, mode: .lines, interval: 2, now: Self.now)
        #expect(first.hasPrefix("jobs at 2027-01-15T08:00:00Z (refreshed on NOTIFY certbus_jobs and every 2 s"))
        #expect(first.contains("ISSUE_CERT") && first.contains("OLDEST WAITING") && first.contains("5 s"))
        let next = try JobsWatchOutput.render(Self.after, after: Self.before, mode: .lines, interval: 2, now: Self.now)
        // ISSUE_CERT only waited longer: not a change. NOOP is gone (shown with zeros), RENEW_CERT is new, one failure.
        #expect(next == """
            2027-01-15T08:00:00Z  NOOP  due 0  scheduled 0  running 0  failed 0
            2027-01-15T08:00:00Z  RENEW_CERT  due 0  scheduled 4  running 0  failed 0
            2027-01-15T08:00:00Z  FAILED  job 7  RENEW_CERT  attempt 5: CA down retry later

            """)
        #expect(try JobsWatchOutput.render(Self.after, after: Self.after, mode: .lines, interval: 2, now: Self.now) == "")
    }

    @Test func screenModeRedrawsAndJsonModeWritesOneObjectPerChange() throws {
        let screen = try JobsWatchOutput.render(Self.after, after: Self.before, mode: .screen, interval: 0.5, now: Self.now)
        #expect(screen.hasPrefix("\u{1B}[H\u{1B}[2J"))
        #expect(screen.contains("every 0.5 s") && screen.contains("ended FAILED (newest first)") && screen.contains("job 7"))
        let json = try JobsWatchOutput.render(Self.after, after: Self.before, mode: .json, interval: 2, now: Self.now)
        #expect(json.hasSuffix("\n") && json.dropLast().contains("\n") == false)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        #expect(object["changed"] as? [String] == ["NOOP", "RENEW_CERT"])
        #expect((object["kinds"] as? [[String: Any]])?.map { $0["kind"] as? String } == ["ISSUE_CERT", "RENEW_CERT"])
        #expect((object["new_failures"] as? [[String: Any]])?.first?["job_id"] as? Int == 7)
        #expect(object["time"] as? String == "2027-01-15T08:00:00Z")
        let empty = try JobsWatchOutput.render(JobQueueSummary(kinds: [], failures: []), after: nil, mode: .lines, interval: 2, now: Self.now)
        #expect(empty.contains("no jobs queued, running or failed"))
    }

    @Test func progressDrawsOnlyOnATerminalWithoutJson() {
        let terminal = CapturedOutput()
        let progress = CommandProgress(line: ProgressLine(output: terminal, isTerminal: true, quiet: false, minimumInterval: 0))
        progress.count("sealing audit rows", done: 50, total: 200, unit: "rows")
        progress.waiting("job 12", status: "QUEUED")
        progress.finish()
        #expect(terminal.text.contains("\rsealing audit rows: 50 / 200 rows (25 %)"))
        #expect(terminal.text.contains("\rjob 12: QUEUED · 0 s"))
        #expect(terminal.text.hasSuffix("\r"))
        // More done than the estimated total (rows written meanwhile): never over 100 %.
        let over = CapturedOutput()
        CommandProgress(line: ProgressLine(output: over, isTerminal: true, quiet: false)).count("x", done: 12, total: 10, unit: "rows")
        #expect(over.text.contains("12 / 12 rows (100 %)"))
        for (isTerminal, quiet) in [(false, false), (true, true), (false, true)] {
            let output = CapturedOutput()
            let silent = CommandProgress(line: ProgressLine(output: output, isTerminal: isTerminal, quiet: quiet))
            #expect(!silent.isDrawing)
            silent.count("x", done: 1, total: 2, unit: "rows")
            let value = silent.ticking("long work") { 42 }
            silent.finish()
            #expect(value == 42)
            #expect(output.text == "")
        }
    }

    @Test func tickingCountsTheSecondsOfOneBlockingCall() {
        let output = CapturedOutput()
        let progress = CommandProgress(line: ProgressLine(output: output, isTerminal: true, quiet: false))
        let value = progress.ticking("scanning") { () -> Int in
            Thread.sleep(forTimeInterval: 2.2)
            return 7
        }
        #expect(value == 7)
        #expect(output.text.hasPrefix("\rscanning · 0 s"))
        #expect(output.text.contains("\rscanning · 1 s") || output.text.contains("\rscanning · 2 s"), "\(output.text)")
        #expect(output.text.hasSuffix("\r"))  // cleared at the end
    }
}
