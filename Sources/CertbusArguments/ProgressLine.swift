import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A one-line progress display for long-running commands.
///
/// On a terminal it keeps redrawing a single line on standard error (at most
/// ten times a second, so a tight loop may call `update` freely) and clears it
/// when the work is done. It writes nothing at all when it is `quiet` (give it
/// `--json`, so scripts see only their JSON) or when standard error is not a
/// terminal (a log file or a pipe gets no carriage-return noise). It never
/// writes to standard output.
///
/// Safe to call from several threads.
public final class ProgressLine: @unchecked Sendable {
    private let output: any TextOutput
    private let enabled: Bool
    private let minimumInterval: TimeInterval
    private let clock: @Sendable () -> TimeInterval
    private let lock = NSLock()
    private var lastDraw: TimeInterval = -.infinity
    private var drawnWidth = 0

    /// A progress line writing to `output`. It draws only if `isTerminal` and not `quiet`.
    public init(
        output: any TextOutput, isTerminal: Bool, quiet: Bool, minimumInterval: TimeInterval = 0.1,
        clock: @escaping @Sendable () -> TimeInterval = { ProcessInfo.processInfo.systemUptime }
    ) {
        self.output = output
        self.enabled = isTerminal && !quiet
        self.minimumInterval = minimumInterval
        self.clock = clock
    }

    /// A progress line on the invocation's standard error; it draws only when file
    /// descriptor 2 is a terminal and `quiet` is false.
    public convenience init(_ invocation: Invocation, quiet: Bool) {
        self.init(output: invocation.errorOutput, isTerminal: isatty(2) == 1, quiet: quiet)
    }

    /// True when this line draws anything.
    public var isDrawing: Bool { enabled }

    /// Replaces the line with `text`, unless the last redraw was less than the
    /// minimum interval ago (`force` redraws anyway).
    public func update(_ text: String, force: Bool = false) {
        guard enabled else { return }
        lock.withLock {
            let now = clock()
            guard force || now - lastDraw >= minimumInterval else { return }
            lastDraw = now
            let width = text.count
            let padding = max(0, drawnWidth - width)
            output.write("\r" + text + String(repeating: " ", count: padding))
            drawnWidth = width
        }
    }

    /// Clears the line (leaving the cursor at the start of an empty line).
    public func finish() {
        guard enabled else { return }
        lock.withLock {
            guard drawnWidth > 0 else { return }
            output.write("\r" + String(repeating: " ", count: drawnWidth) + "\r")
            drawnWidth = 0
        }
    }

    /// "1,234 / 10,000 (12 %) · 350/s · about 25 s left": the usual text for `done`
    /// of `total` items after `elapsed` seconds. `total` nil means unknown.
    public static func describe(done: Int, total: Int?, elapsed: TimeInterval, unit: String = "") -> String {
        let suffix = unit.isEmpty ? "" : " " + unit
        var parts: [String] = []
        if let total, total > 0 {
            let percent = Int((Double(done) / Double(total) * 100).rounded(.down))
            parts.append("\(grouped(done)) / \(grouped(total))\(suffix) (\(min(100, max(0, percent))) %)")
        } else {
            parts.append("\(grouped(done))\(suffix)")
        }
        if elapsed > 0, done > 0 {
            let rate = Double(done) / elapsed
            parts.append("\(grouped(Int(rate.rounded())))/s")
            if let total, total > done, rate > 0 {
                parts.append("about \(duration(Double(total - done) / rate)) left")
            }
        }
        return parts.joined(separator: " · ")
    }

    /// 1234567 → "1,234,567".
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (index, character) in digits.enumerated() {
            if index > 0, (digits.count - index) % 3 == 0 { out.append(",") }
            out.append(character)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// 42 → "42 s", 150 → "2 min 30 s", 7200 → "2 h 0 min".
    public static func duration(_ seconds: TimeInterval) -> String {
        let total = Int(seconds.rounded(.up))
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        return "\(total / 3600) h \((total % 3600) / 60) min"
    }
}
