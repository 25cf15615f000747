import Dispatch
import Foundation

/// Runs ACME client work (async) for the synchronous CA connector API.
///
/// The work runs in a detached task on `ACMETaskExecutor`'s own threads (never Swift's
/// cooperative pool, so nothing else blocking that pool can stall it); the calling thread
/// waits, and meanwhile calls `tick` about every `tickInterval` (heartbeats) and cancels the
/// work when `isCancelled` turns true. The caller must be an ordinary thread (a job worker),
/// never a task on the cooperative pool, since it blocks while it waits.
enum ACMEBlocking {
    /// Waits for `body`; rethrows its error. `tick` errors cancel the work and are rethrown
    /// after it stopped.
    static func run<T: Sendable>(
        tickInterval: TimeInterval = 10, tick: @Sendable () throws -> Void = {},
        isCancelled: @Sendable () -> Bool = { false },
        _ body: @escaping @Sendable () async throws(ACMEError) -> T
    ) throws -> T {
        let outcome = Outcome<T>()
        let done = DispatchSemaphore(value: 0)
        let task = Task.detached(executorPreference: ACMETaskExecutor.shared) {
            do throws(ACMEError) {
                outcome.set(.success(try await body()))
            } catch {
                outcome.set(.failure(error))
            }
            done.signal()
        }
        var lastTick = Date()
        var tickError: Error?
        while done.wait(timeout: .now() + 0.2) == .timedOut {
            if isCancelled() { task.cancel() }
            if tickError == nil, Date().timeIntervalSince(lastTick) >= tickInterval {
                lastTick = Date()
                do {
                    try tick()
                } catch {
                    tickError = error
                    task.cancel()
                }
            }
        }
        if let tickError { throw tickError }
        return try outcome.get().get()
    }

    /// The result of the task, handed to the waiting thread.
    private final class Outcome<T: Sendable>: @unchecked Sendable {
        private let lock = NSLock()
        private var result: Result<T, ACMEError>?

        func set(_ result: Result<T, ACMEError>) { lock.withLock { self.result = result } }

        func get() -> Result<T, ACMEError> {
            lock.withLock { result } ?? .failure(ACMEError(.cancelled("no result"), operation: "ACME request"))
        }
    }
}
