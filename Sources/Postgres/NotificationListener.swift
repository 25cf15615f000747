import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// What a `NotificationListener` reports.
public enum ListenerEvent: Sendable, Equatable {
    /// The listener is connected and listening. `resumed` is true after a
    /// reconnect: notifications sent while it was away are lost, so the
    /// consumer must catch up by querying.
    case listening(resumed: Bool)
    /// A notification arrived.
    case notification(PostgresNotification)
    /// The connection broke; the listener keeps retrying with backoff.
    case disconnected(String)
}

/// A connection on its own thread that LISTENs to channels and reports
/// notifications as they arrive (woken by its socket, not by polling).
///
/// When the server restarts it reconnects with backoff, LISTENs again and
/// reports `.listening(resumed: true)` so that the consumer can query for what
/// it may have missed.
public final class NotificationListener: @unchecked Sendable {
    public let configuration: ConnectionConfiguration
    public let channels: [String]
    private let onEvent: @Sendable (ListenerEvent) -> Void
    private let lock = NSLock()
    private var stopped = false
    private var thread: Thread?
    private var wakePipe: [Int32] = [-1, -1]
    private let finished = DispatchSemaphore(value: 0)
    /// Seconds of silence after which the listener checks the connection with `SELECT 1`.
    public var healthCheckInterval: Double = 30

    /// Creates a listener; nothing happens until `start()`.
    public init(
        configuration: ConnectionConfiguration, channels: [String],
        onEvent: @escaping @Sendable (ListenerEvent) -> Void
    ) {
        self.configuration = configuration
        self.channels = channels
        self.onEvent = onEvent
        _ = pipe(&wakePipe)
    }

    deinit {
        if wakePipe[0] >= 0 { Glibc.close(wakePipe[0]) }
        if wakePipe[1] >= 0 { Glibc.close(wakePipe[1]) }
    }

    /// Starts the listener's thread.
    public func start() {
        lock.lock()
        defer { lock.unlock() }
        guard thread == nil else { return }
        let thread = Thread { [self] in self.run() }
        thread.name = "certbus-listener"
        thread.stackSize = 512 * 1024
        self.thread = thread
        thread.start()
    }

    /// Stops the listener and waits for its thread to finish.
    public func stop() {
        lock.lock()
        let wasRunning = thread != nil && !stopped
        stopped = true
        lock.unlock()
        var byte: UInt8 = 1
        _ = write(wakePipe[1], &byte, 1)
        if wasRunning { finished.wait() }
    }

    private var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }

    /// Sleeps up to `seconds`, returning early when stopped.
    private func pause(_ seconds: Double) {
        var fd = pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, Int32(seconds * 1000))
    }

    private func run() {
        defer { finished.signal() }
        var everListened = false
        var delay = 0.05
        var connection: Connection?
        var reportedDown = false
        while !isStopped {
            if connection == nil {
                do {
                    let c = try Connection(configuration: configuration)
                    for channel in channels { try c.listen(channel) }
                    connection = c
                    delay = 0.05
                    reportedDown = false
                    onEvent(.listening(resumed: everListened))
                    everListened = true
                } catch {
                    if !reportedDown {
                        onEvent(.disconnected(String(describing: error)))
                        reportedDown = true
                    }
                    pause(delay * Double.random(in: 0.8...1.2))
                    delay = min(delay * 2, 5)
                    continue
                }
            }
            guard let c = connection else { continue }
            do {
                let received = try c.waitForNotifications(timeout: healthCheckInterval, wakeDescriptor: wakePipe[0])
                if received.isEmpty && !isStopped {
                    // Quiet for a while (or woken): make sure the server is still there.
                    try c.execute("SELECT 1")
                }
                for notification in received { onEvent(.notification(notification)) }
            } catch {
                c.close()
                connection = nil
                if !isStopped {
                    onEvent(.disconnected(String(describing: error)))
                    reportedDown = true
                }
            }
        }
        connection?.close()
    }

    /// Starts a listener whose events arrive as an async stream. The listener
    /// stops when the stream's consumer stops iterating (the stream is terminated).
    public static func stream(
        configuration: ConnectionConfiguration, channels: [String]
    ) -> AsyncStream<ListenerEvent> {
        let (stream, continuation) = AsyncStream<ListenerEvent>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
        let listener = NotificationListener(configuration: configuration, channels: channels) { event in
            continuation.yield(event)
        }
        continuation.onTermination = { _ in
            DispatchQueue.global().async { listener.stop() }
        }
        listener.start()
        return stream
    }
}
