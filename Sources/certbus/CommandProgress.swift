import CertbusArguments
import Foundation

/// The progress display of a long-running command: a `ProgressLine` on standard error, drawn
/// only when standard error is a terminal and `--json` was not given, cleared when the work ends.
/// Every command that can run for more than a moment uses one (docs/operations.md lists them).
final class CommandProgress: @unchecked Sendable {
    private let line: ProgressLine
    private let started = DispatchTime.now()

    /// Progress for `context`'s invocation (silent with `--json` or without a terminal).
    init(_ context: CommandContext) {
        line = ProgressLine(context.invocation, quiet: context.json)
    }

    /// Progress drawn on `line` (tests give one writing to a capture).
    init(line: ProgressLine) {
        self.line = line
    }

    /// Whether anything is drawn (callers skip work done only for the display, such as a total count).
    var isDrawing: Bool { line.isDrawing }

    /// Seconds since the progress was created.
    var elapsed: Double { Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9 }

    /// "label: 1,200 / 5,000 rows (24 %) · 600/s · about 6 s left".
    func count(_ label: String, done: Int, total: Int?, unit: String) {
        line.update("\(label): " + ProgressLine.describe(done: done, total: total.map { max($0, done) }, elapsed: elapsed, unit: unit))
    }

    /// "label: QUEUED · 12 s": waiting for something another process does.
    func waiting(_ label: String, status: String) {
        line.update("\(label): \(status) · \(ProgressLine.duration(elapsed.rounded(.down)))")
    }

    /// Runs `body` (one blocking call) while "label · 12 s" counts up once a second.
    func ticking<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
        guard line.isDrawing else { return try body() }
        let timer = DispatchSource.makeTimerSource(queue: .global())
        timer.schedule(deadline: .now() + 1, repeating: 1)
        let start = DispatchTime.now()
        timer.setEventHandler { [line] in
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
            line.update("\(label) · \(ProgressLine.duration(seconds.rounded(.down)))", force: true)
        }
        line.update("\(label) · 0 s", force: true)
        timer.resume()
        defer {
            timer.cancel()
            line.finish()
        }
        return try body()
    }

    /// Clears the line.
    func finish() { line.finish() }
}
