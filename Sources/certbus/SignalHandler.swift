import Dispatch
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Turns SIGINT and SIGTERM into a graceful shutdown.
///
/// The first signal calls `onFirstSignal` (once, on a private dispatch queue):
/// stop taking work, finish or release what is in hand, then return. A second
/// signal means the operator insists: certbus writes a line to standard error
/// and exits at once with status 128 + signal number.
///
/// How: a `sigaction` handler writes the signal number to a non-blocking
/// self-pipe (async-signal-safe), and a `DispatchSource` reading that pipe
/// runs the callbacks. `DispatchSource.makeSignalSource` alone is not used:
/// on Linux it relies on signalfd, which only sees signals blocked in every
/// thread, so a signal arriving at any other thread would be lost or kill the
/// process. `cancel()` restores the default action.
final class SignalHandler: @unchecked Sendable {
    private let id = UUID()
    private let signals: [Int32]
    private let lock = NSLock()
    private var count = 0

    /// Starts watching `signals`.
    init(signals: [Int32] = [SIGINT, SIGTERM], onFirstSignal: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        SignalRelay.shared.subscribe(id, signals: signals) { [weak self] number in
            guard let self else { return }
            let seen = self.lock.withLock { () -> Int in
                self.count += 1
                return self.count
            }
            if seen == 1 {
                onFirstSignal(number)
            } else {
                FileHandle.standardError.write(
                    Data("certbus: second signal (\(SignalHandler.name(number))), exiting now\n".utf8))
                exit(128 + number)
            }
        }
    }

    /// How many of the watched signals have arrived so far.
    var receivedCount: Int { lock.withLock { count } }

    /// Stops watching; signals no other handler watches get their default action back.
    func cancel() { SignalRelay.shared.unsubscribe(id) }

    deinit { SignalRelay.shared.unsubscribe(id) }

    /// Waits until the first SIGINT or SIGTERM and returns its number; a second one exits the process.
    /// The returned handler stays installed: keep it while shutting down, cancel it after.
    static func waitForShutdown(signals: [Int32] = [SIGINT, SIGTERM]) async -> (signal: Int32, handler: SignalHandler) {
        let box = HandlerBox()
        let number = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            box.handler = SignalHandler(signals: signals) { continuation.resume(returning: $0) }
        }
        return (number, box.handler!)
    }

    /// "SIGINT", "SIGTERM", "SIGHUP", or "signal N".
    static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: return "SIGINT"
        case SIGTERM: return "SIGTERM"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(number)"
        }
    }

    private final class HandlerBox: @unchecked Sendable {
        var handler: SignalHandler?
    }
}

/// The write end of the self-pipe, read by the C signal handler.
nonisolated(unsafe) private var signalPipeWriteEnd: Int32 = -1

/// The process-wide signal handler: records the signal number in the self-pipe.
private let relaySignal: @convention(c) (Int32) -> Void = { number in
    let savedErrno = errno
    var byte = UInt8(truncatingIfNeeded: number)
    _ = write(signalPipeWriteEnd, &byte, 1)
    errno = savedErrno
}

/// Owns the self-pipe, the dispatch source reading it, and the subscribers.
private final class SignalRelay: @unchecked Sendable {
    static let shared = SignalRelay()

    private let queue = DispatchQueue(label: "certbus.signals")
    private let lock = NSLock()
    private var subscribers: [UUID: (signals: [Int32], callback: @Sendable (Int32) -> Void)] = [:]
    private var source: DispatchSourceRead?

    private init() {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        signalPipeWriteEnd = fds[1]
        let readEnd = fds[0]
        let source = DispatchSource.makeReadSource(fileDescriptor: readEnd, queue: queue)
        source.setEventHandler { [unowned self] in
            var buffer = [UInt8](repeating: 0, count: 64)
            let count = read(readEnd, &buffer, buffer.count)
            guard count > 0 else { return }
            for byte in buffer[0..<count] { self.deliver(Int32(byte)) }
        }
        source.resume()
        self.source = source
    }

    func subscribe(_ id: UUID, signals: [Int32], callback: @escaping @Sendable (Int32) -> Void) {
        lock.withLock { subscribers[id] = (signals, callback) }
        for number in signals {
            var action = sigaction()
            #if canImport(Glibc)
                action.__sigaction_handler.sa_handler = relaySignal
            #else
                action.__sigaction_u.__sa_handler = relaySignal
            #endif
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART
            sigaction(number, &action, nil)
        }
    }

    func unsubscribe(_ id: UUID) {
        let released: [Int32] = lock.withLock {
            guard let removed = subscribers.removeValue(forKey: id) else { return [] }
            let stillWatched = Set(subscribers.values.flatMap(\.signals))
            return removed.signals.filter { !stillWatched.contains($0) }
        }
        for number in released { signal(number, SIG_DFL) }
    }

    private func deliver(_ number: Int32) {
        let callbacks = lock.withLock { subscribers.values.filter { $0.signals.contains(number) }.map(\.callback) }
        for callback in callbacks { callback(number) }
    }
}
