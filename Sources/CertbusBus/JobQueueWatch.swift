import CertbusCore
import Foundation
import Postgres

/// A live view of the queue (`certbus jobs watch`): refreshed when `NOTIFY certbus_jobs` says
/// jobs were enqueued, and by a poll every `pollInterval` seconds for what sends no notification
/// (claims, completions and failures do not NOTIFY: that would serialise the queue's commits; see
/// sql/011).
///
/// `start()` LISTENs first and then reads, so no enqueue in between is missed; `next` waits and
/// returns the new summary when something changed. After a lost connection, reconnect it and call
/// `start()` again: the watch keeps its last summary, so the caller can show what changed meanwhile.
public final class JobQueueWatch {
    let connection: Connection
    /// The kinds shown (nil: all).
    public let kinds: [JobKind]?
    /// Seconds between two reads when no notification comes.
    public let pollInterval: Double
    /// The summary shown last.
    public private(set) var current: JobQueueSummary?
    private let failuresSince: Date
    private var lastRead = DispatchTime.now()

    /// A watch over `kinds` (all when nil) showing jobs failed since `failuresSince`.
    public init(connection: Connection, kinds: [JobKind]? = nil, pollInterval: Double = 2, failuresSince: Date = Date().addingTimeInterval(-3600)) {
        self.connection = connection
        self.kinds = kinds
        self.pollInterval = max(0.1, pollInterval)
        self.failuresSince = failuresSince
    }

    /// Starts listening and returns the summary now.
    public func start() throws -> JobQueueSummary {
        try connection.listen(JobQueue.channel)
        return try read()
    }

    /// Waits for a notification, the poll interval, or `wakeDescriptor` (whichever comes first; at
    /// most `timeout` seconds) and returns the summary when it differs from the last one, else nil.
    /// Bursts of notifications are taken together, at most four reads a second.
    public func next(timeout: Double, wakeDescriptor: Int32? = nil) throws -> JobQueueSummary? {
        let sinceRead = Double(DispatchTime.now().uptimeNanoseconds - lastRead.uptimeNanoseconds) / 1e9
        let wait = max(0, min(timeout, pollInterval - sinceRead))
        let notifications = try connection.waitForNotifications(timeout: wait, wakeDescriptor: wakeDescriptor)
        let polled = Double(DispatchTime.now().uptimeNanoseconds - lastRead.uptimeNanoseconds) / 1e9 >= pollInterval
        guard polled || !notifications.isEmpty else { return nil }
        let sinceLast = Double(DispatchTime.now().uptimeNanoseconds - lastRead.uptimeNanoseconds) / 1e9
        if sinceLast < 0.25 { Thread.sleep(forTimeInterval: 0.25 - sinceLast) }
        _ = try connection.pendingNotifications()
        let previous = current
        let summary = try read()
        guard let previous else { return summary }
        return summary.changedKinds(since: previous).isEmpty && summary.newFailures(since: previous).isEmpty ? nil : summary
    }

    private func read() throws -> JobQueueSummary {
        let summary = try JobQueueSummary.read(on: connection, kinds: kinds, failuresSince: failuresSince)
        lastRead = DispatchTime.now()
        current = summary
        return summary
    }
}
