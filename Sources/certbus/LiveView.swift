import CertbusArguments
import Foundation
import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// The loop of the live views (`alerts watch`, `jobs watch`): runs `step` until Ctrl-C (SIGINT or
/// SIGTERM) or the `--for` deadline. A lost database connection does not end the view: it says so
/// on standard error (standard output stays pure with `--json`), reconnects with a growing pause
/// (0.5 s to 5 s) and calls `resume` so the view can LISTEN again and show what changed meanwhile.
enum LiveView {
    /// Runs the view. `step(timeout, wakeDescriptor)` waits at most `timeout` seconds for changes
    /// (returning early when `wakeDescriptor` becomes readable: a signal arrived) and prints them.
    static func run(
        connection: Connection, deadline: Date?, errorOutput: any TextOutput,
        resume: () throws -> Void, step: (Double, Int32) throws -> Void
    ) throws {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw CommandFailure("cannot create a pipe: \(String(cString: strerror(errno)))") }
        defer {
            close(fds[0])
            close(fds[1])
        }
        let wake = fds[1]
        let signals = SignalHandler { _ in
            var byte: UInt8 = 1
            _ = write(wake, &byte, 1)
        }
        defer { signals.cancel() }
        func timeLeft() -> Double? {
            guard let deadline else { return 30 }
            let left = deadline.timeIntervalSinceNow
            return left > 0 ? min(left, 30) : nil
        }
        while signals.receivedCount == 0, let timeout = timeLeft() {
            do {
                try step(timeout, fds[0])
            } catch let error as PostgresError where error.isConnectionLost {
                errorOutput.write("\(ISODate.format(Date()))  connection to the database lost (\(error.message)); reconnecting\n")
                var pause = 0.5
                while signals.receivedCount == 0, let left = timeLeft() {
                    var readable = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
                    _ = poll(&readable, 1, Int32(min(pause, left) * 1000))
                    if signals.receivedCount > 0 { break }
                    do {
                        try connection.reconnect()
                        try resume()
                        errorOutput.write("\(ISODate.format(Date()))  reconnected\n")
                        break
                    } catch let again as PostgresError where again.isConnectionLost || !connection.isOpen {
                        pause = min(pause * 2, 5)
                    }
                }
            }
        }
    }
}
