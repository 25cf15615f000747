import CertbusBus
import Foundation
import Postgres

/// The audit sealer as a long-running service: one leader cluster-wide
/// (`Leadership` named `audit-sealer`) seals committed audit rows as they arrive
/// (woken by NOTIFY on `certbus_audit`, with a poll as a safety net), writes a
/// signed checkpoint periodically, and keeps monthly partitions created ahead.
///
/// All its work runs on the leadership's own connection, so it cannot outlive
/// the leadership. `start()` runs it on its own thread; `stop(grace:)` ends it.
/// Errors (a lost connection, a failed batch) are logged and retried; a failed
/// batch changes nothing. Batches are serialised in the database too, so a
/// second sealer (or `certbus audit seal`) running at the same moment is safe.
public final class AuditSealerService: CertbusService, @unchecked Sendable {
    /// Tunables.
    public struct Options: Sendable {
        /// Rows per sealing transaction.
        public var batchSize = 5000
        /// Longest wait between two looks at the table when no notification arrives.
        public var pollInterval: Double = 5
        /// Wait before looking again while committed rows wait for an older transaction
        /// (doubles while nothing can be sealed, up to `pollInterval`).
        public var pendingRetryInterval: Double = 0.02
        /// Seconds between checkpoints (only written when something new was sealed).
        public var checkpointInterval: Double = 60
        /// Also write a checkpoint once this many rows were sealed since the last one.
        public var checkpointEveryRows = 1_000_000
        /// Seconds between partition upkeep runs, and how many months ahead to create.
        public var partitionInterval: Double = 3600
        public var partitionMonthsAhead = 3
        /// Seconds between attempts to become leader, and before retrying after an error.
        public var retryInterval: Double = 2
        /// Where log lines go.
        public var log: ServiceLog = .standardError()

        public init() {}
    }

    /// What the service has done since it started.
    public struct Counters: Sendable, Equatable {
        public var sealed: Int = 0
        public var batches: Int = 0
        public var checkpoints: Int = 0
        public var errors: Int = 0
        public var isLeader = false
    }

    /// The service name (`audit-sealer`), also its leadership name.
    public let name = "audit-sealer"
    /// How it connects.
    public let configuration: ConnectionConfiguration
    /// The options it runs with.
    public let options: Options

    private let checkpointWriter: AuditCheckpointWriter?
    private let lock = NSLock()
    private var stopping = false
    private var running = false
    private let finished = DispatchSemaphore(value: 0)
    private var wakePipe: [Int32] = [-1, -1]
    private var counters = Counters()

    /// A sealer connecting with `configuration`. Without a signing key it seals but writes no checkpoints.
    public init(configuration: ConnectionConfiguration, signingKey: AuditSigningKey?, options: Options = Options()) {
        self.configuration = configuration.with(applicationName: "certbus-audit-sealer")
        self.options = options
        self.checkpointWriter = signingKey.map { AuditCheckpointWriter(key: $0) }
    }

    /// A snapshot of the counters.
    public var statistics: Counters {
        lock.lock()
        defer { lock.unlock() }
        return counters
    }

    /// Starts the service thread. Throws when it is already running.
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        guard !running else { throw AuditError("the audit sealer is already running") }
        guard pipe(&wakePipe) == 0 else {
            throw AuditError("cannot create a wake-up pipe: \(String(cString: strerror(errno)))")
        }
        _ = fcntl(wakePipe[0], F_SETFL, fcntl(wakePipe[0], F_GETFL) | O_NONBLOCK)
        stopping = false
        running = true
        let thread = Thread { [self] in
            run()
            finished.signal()
        }
        thread.name = "certbus-audit-sealer"
        thread.start()
    }

    /// Asks the service to stop and waits up to `grace` seconds for it. A batch in
    /// progress commits or rolls back first. Calling it twice is harmless.
    public func stop(grace: Double) {
        lock.lock()
        guard running, !stopping else {
            lock.unlock()
            return
        }
        stopping = true
        lock.unlock()
        wake()
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

    /// One round on the leader's connection: partitions, sealing, checkpoint.
    /// Returns how long to wait for a notification before the next round.
    private func round(_ c: Connection, _ state: inout LoopState) throws -> Double {
        if !state.listening {
            try c.listen(AuditSealer.channel)
            state.listening = true
        }
        if Date().timeIntervalSince(state.lastPartitionRun) >= options.partitionInterval {
            let created = try c.query(
                "SELECT certbus.audit_ensure_partitions($1) AS n", [options.partitionMonthsAhead]
            )[0].decode("n", as: Int.self)
            if created > 0 { options.log(.info, name, "created \(created) audit partition(s)") }
            state.lastPartitionRun = Date()
        }
        let sealer = AuditSealer(batchSize: options.batchSize)
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
        state.rowsSinceCheckpoint += sealedNow
        if let writer = checkpointWriter,
            Date().timeIntervalSince(state.lastCheckpoint) >= options.checkpointInterval
                || state.rowsSinceCheckpoint >= options.checkpointEveryRows
        {
            if let checkpoint = try writer.writeIfDue(on: c) {
                update { $0.checkpoints += 1 }
                options.log(.debug, name, "checkpoint \(checkpoint.id) at position \(checkpoint.chainPosition)")
            }
            state.lastCheckpoint = Date()
            state.rowsSinceCheckpoint = 0
        }
        // Rows waiting for an older transaction: look again soon, backing off while nothing moves.
        guard try AuditSealer.hasUnsealed(on: c) else {
            state.pendingWait = options.pendingRetryInterval
            return options.pollInterval
        }
        state.pendingWait = sealedNow > 0 ? options.pendingRetryInterval : min(options.pollInterval, state.pendingWait * 2)
        return state.pendingWait
    }

    private struct LoopState {
        var listening = false
        var lastCheckpoint = Date()
        var rowsSinceCheckpoint = 0
        var lastPartitionRun = Date.distantPast
        var pendingWait: Double
    }

    private func run() {
        let leadership = Leadership(name: name, configuration: configuration)
        var state = LoopState(pendingWait: options.pendingRetryInterval)
        while !isStopping {
            guard leadership.refresh() else {
                if statistics.isLeader {
                    options.log(.warning, name, "lost leadership")
                    update { $0.isLeader = false }
                }
                state.listening = false
                pause(options.retryInterval)
                continue
            }
            if !statistics.isLeader {
                update { $0.isLeader = true }
                state.listening = false
                options.log(.info, name, "leader; sealing")
            }
            do {
                guard let wait = try leadership.whileLeading({ try round($0, &state) }) else { continue }
                _ = try leadership.whileLeading { c in
                    try c.waitForNotifications(timeout: wait, wakeDescriptor: wakePipe[0])
                }
                drainWakePipe()
            } catch {
                update { $0.errors += 1 }
                options.log(.error, name, "\(error); retrying in \(options.retryInterval) s")
                pause(options.retryInterval)
            }
        }
        leadership.resign()
        lock.lock()
        counters.isLeader = false
        close(wakePipe[0])
        close(wakePipe[1])
        wakePipe = [-1, -1]
        running = false
        lock.unlock()
    }
}
