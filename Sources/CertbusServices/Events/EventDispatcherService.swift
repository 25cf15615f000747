import CertbusBus
import Foundation
import Postgres

/// Runs an `EventDispatcher` on its own thread: LISTENs on `certbus_events`, dispatches whenever a NOTIFY
/// arrives, and also every `pollInterval` seconds as a safety net (a missed NOTIFY, RETRYING runs coming
/// due). Several instances may run in one or many processes. Reconnects with backoff when the database goes away.
public final class EventDispatcherService: CertbusService, @unchecked Sendable {
    public let name: String
    public let configuration: ConnectionConfiguration
    public let dispatcher: EventDispatcher
    public let pollInterval: Double
    let log: ServiceLog

    private let lock = NSLock()
    private var stopping = false
    private var running = false
    private var wakePipe: [Int32] = [-1, -1]
    private let finished = DispatchSemaphore(value: 0)
    private var handled = DispatchSummary()
    private var listening = false

    public init(name: String = "event-dispatcher", configuration: ConnectionConfiguration,
                dispatcher: EventDispatcher = EventDispatcher(), pollInterval: Double = 5,
                log: ServiceLog = .standardError()) {
        self.name = name
        self.configuration = configuration.with(applicationName: "certbus-\(name)")
        self.dispatcher = dispatcher
        self.pollInterval = pollInterval
        self.log = log
    }

    /// True while the service is connected and LISTENing on `certbus_events`.
    public var isListening: Bool { lock.withLock { listening } }

    /// Everything dispatched since start.
    public var totals: DispatchSummary { lock.withLock { handled } }

    public func start() throws {
        try lock.withLock {
            guard !running else { return }
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else { throw PostgresError(kind: .connection, message: "cannot create the wake-up pipe") }
            wakePipe = fds
            stopping = false
            running = true
        }
        let thread = Thread { [self] in loop() }
        thread.name = "certbus-\(name)"
        thread.start()
    }

    public func stop(grace: Double) {
        let wasRunning = lock.withLock { () -> Bool in
            stopping = true
            return running
        }
        guard wasRunning else { return }
        var byte: UInt8 = 1
        _ = write(wakePipe[1], &byte, 1)
        if finished.wait(timeout: .now() + max(0, grace)) == .timedOut {
            log(.warning, name, "still dispatching after \(grace)s; leaving it")
            return
        }
        lock.withLock {
            running = false
            close(wakePipe[0])
            close(wakePipe[1])
        }
    }

    private var isStopping: Bool { lock.withLock { stopping } }

    private func loop() {
        defer { finished.signal() }
        var failures = 0
        while !isStopping {
            do {
                let connection = try Connection.connect(configuration)
                defer {
                    lock.withLock { listening = false }
                    connection.close()
                }
                try connection.listen(EventLog.channel)
                lock.withLock { listening = true }
                log(.info, name, "listening on \(EventLog.channel)")
                failures = 0
                while !isStopping {
                    let summary = try dispatcher.drain(on: connection)
                    if summary.runs > 0 || summary.events > 0 {
                        lock.withLock { handled = handled + summary }
                        log(.debug, name, "dispatched \(summary.events) events, \(summary.runs) runs, \(summary.failures) failed")
                    }
                    _ = try connection.waitForNotifications(timeout: pollInterval, wakeDescriptor: wakePipe[0])
                }
            } catch {
                failures += 1
                let delay = min(30, 0.5 * pow(2, Double(min(failures, 6))))
                log(.error, name, "\(error); retrying in \(String(format: "%.1f", delay))s")
                waitForStop(seconds: delay)
            }
        }
    }

    private func waitForStop(seconds: Double) {
        var fd = pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0)
        _ = poll(&fd, 1, Int32(seconds * 1000))
    }
}
