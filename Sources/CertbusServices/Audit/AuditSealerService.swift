import Foundation
import Postgres

/// The audit sealer as a long-running service: one leader cluster-wide seals
/// committed audit rows as they arrive (woken by NOTIFY on `certbus_audit`,
/// with a poll as a safety net), writes a signed checkpoint periodically, and
/// keeps monthly partitions created ahead.
///
/// `start()` runs it on its own thread; `stop(grace:)` ends it. Errors (a lost
/// connection, a failed batch) are reported through `log`, and the service
/// reconnects and tries again; a failed batch changes nothing.
public final class AuditSealerService: @unchecked Sendable {
    /// Tunables.
    public struct Configuration: Sendable {
        /// Rows per sealing transaction.
        public var batchSize = 5000
        /// Longest wait between two looks at the table when no notification arrives.
        public var pollInterval: Double = 5
        /// Wait before looking again while committed rows wait for an older transaction.
        public var pendingRetryInterval: Double = 0.02
        /// Seconds between checkpoints (only written when something new was sealed).
        public var checkpointInterval: Double = 60
        /// Also write a checkpoint once this many rows were sealed since the last one.
        public var checkpointEveryRows = 1_000_000
        /// Seconds between partition upkeep runs, and how many months ahead to create.
        public var partitionInterval: Double = 3600
        public var partitionMonthsAhead = 3
        /// Seconds between attempts to become leader, and to reconnect after an error.
        public var retryInterval: Double = 2
        /// Where messages go (default: standard error).
        public var log: @Sendable (String) -> Void = { message in
            FileHandle.standardError.write(Data("audit-sealer: \(message)\n".utf8))
        }

        public init() {}
    }

    /// The service name used by `certbus serve`.
    public let name = "audit-sealer"
    /// The configuration it runs with.
    public let configuration: Configuration

    private let connect: @Sendable () throws -> Connection
    private let checkpointWriter: AuditCheckpointWriter?
    private let lock = NSLock()
    private var stopping = false
    private var thread: Thread?
    private var finished = DispatchSemaphore(value: 0)
    private var wakePipe: [Int32] = [-1, -1]
    private var counters = Counters()

    /// What the service has done since it started.
    public struct Counters: Sendable, Equatable {
        public var sealed: Int = 0
        public var batches: Int = 0
        public var checkpoints: Int = 0
        public var errors: Int = 0
        public var isLeader = false
    }

    /// `connect` opens a new connection (called again after errors). Without a
    /// signing key the sealer seals but writes no checkpoints.
    public init(
        configuration: Configuration = Configuration(), signingKey: AuditSigningKey?,
        connect: @escaping @Sendable () throws -> Connection
    ) {
        self.configuration = configuration
        self.connect = connect
        self.checkpointWriter = signingKey.map { AuditCheckpointWriter(key: $0) }
    }

    /// A snapshot of the counters.
    public var statistics: Counters {
        lock.lock()
        defer { lock.unlock() }
        return counters
    }

    /// Starts the service thread. Calling it twice is an error.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        guard thread == nil else { throw AuditError("the audit sealer is already started") }
        guard pipe(&wakePipe) == 0 else { throw AuditError("cannot create a wake-up pipe: \(String(cString: strerror(errno)))") }
        _ = fcntl(wakePipe[0], F_SETFL, fcntl(wakePipe[0], F_GETFL) | O_NONBLOCK)
        stopping = false
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "certbus-audit-sealer"
        self.thread = thread
        thread.start()
    }

    /// Asks the service to stop and waits up to `grace` seconds for it. A batch in
    /// progress finishes (or rolls back) first.
    public func stop(grace: Double) {
        lock.lock()
        guard thread != nil, !stopping else {
            lock.unlock()
            return
        }
        stopping = true
        let fd = wakePipe[1]
        lock.unlock()
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
        _ = finished.wait(timeout: .now() + grace)
    }

    /// Wakes the service now (it also wakes on NOTIFY).
    public func wake() {
        lock.lock()
        let fd = wakePipe[1]
        lock.unlock()
        guard fd >= 0 else { return }
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    private func update(_ change: (inout Counters) -> Void) {
        lock.lock()
        change(&counters)
        lock.unlock()
    }

    private func drainWakePipe() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakePipe[0], &buffer, buffer.count) > 0 {}
    }

    private func pause(_ seconds: Double) {
        var fds = [pollfd(fd: wakePipe[0], events: Int16(POLLIN), revents: 0)]
        _ = poll(&fds, 1, Int32(seconds * 1000))
        drainWakePipe()
    }

    private func run() {
        let sealer = AuditSealer(batchSize: configuration.batchSize)
        var connection: Connection?
        var lastCheckpoint = Date()
        var rowsSinceCheckpoint = 0
        var lastPartitionRun = Date.distantPast
        var pendingWait = configuration.pendingRetryInterval
        while !isStopping {
            do {
                if connection == nil {
                    let c = try connect()
                    try c.listen(AuditSealer.channel)
                    connection = c
                }
                guard let c = connection else { continue }
                if !statistics.isLeader {
                    guard try AuditSealerLeadership.tryAcquire(on: c) else {
                        pause(configuration.retryInterval)
                        continue
                    }
                    update { $0.isLeader = true }
                    configuration.log("leader; sealing")
                }
                if Date().timeIntervalSince(lastPartitionRun) >= configuration.partitionInterval {
                    try c.execute("SELECT certbus.audit_ensure_partitions($1)", [configuration.partitionMonthsAhead])
                    lastPartitionRun = Date()
                }
                var sealedNow = 0
                while !isStopping {
                    let batch = try sealer.sealBatch(on: c)
                    sealedNow += batch.sealed
                    if batch.sealed > 0 {
                        update {
                            $0.sealed += batch.sealed
                            $0.batches += 1
                        }
                    }
                    if batch.sealed < sealer.batchSize { break }
                }
                rowsSinceCheckpoint += sealedNow
                if let writer = checkpointWriter,
                    Date().timeIntervalSince(lastCheckpoint) >= configuration.checkpointInterval
                        || rowsSinceCheckpoint >= configuration.checkpointEveryRows
                {
                    if try writer.writeIfDue(on: c) != nil { update { $0.checkpoints += 1 } }
                    lastCheckpoint = Date()
                    rowsSinceCheckpoint = 0
                }
                let pending = try AuditSealer.hasUnsealed(on: c)
                // Rows waiting for an older transaction: look again soon, backing off while nothing moves.
                if pending {
                    pendingWait = sealedNow > 0
                        ? configuration.pendingRetryInterval : min(configuration.pollInterval, pendingWait * 2)
                } else {
                    pendingWait = configuration.pendingRetryInterval
                }
                let wait = pending ? pendingWait : configuration.pollInterval
                _ = try c.waitForNotifications(timeout: wait, wakeDescriptor: wakePipe[0])
                drainWakePipe()
            } catch {
                update {
                    $0.errors += 1
                    $0.isLeader = false
                }
                configuration.log("error, retrying in \(configuration.retryInterval)s: \(error)")
                if let c = connection {
                    AuditSealerLeadership.release(on: c)
                    c.close()
                }
                connection = nil
                pause(configuration.retryInterval)
            }
        }
        if let c = connection {
            if statistics.isLeader { AuditSealerLeadership.release(on: c) }
            c.close()
        }
        update { $0.isLeader = false }
        lock.lock()
        close(wakePipe[0])
        close(wakePipe[1])
        wakePipe = [-1, -1]
        thread = nil
        lock.unlock()
    }
}
