import Foundation
import Testing

@testable import CertbusServices

/// Where `ACMEBlocking` runs the ACME client's async work: on `ACMETaskExecutor`'s own threads,
/// before and after suspension points, never on Swift's cooperative pool (where anything else
/// blocking the pool's two threads stalled ACME orders for minutes under the full test suite).
@Suite struct ACMEBlockingTests {
    @Test func workRunsOnTheACMEThreadsAcrossSuspensions() throws {
        let names = try ACMEBlocking.run { () async throws(ACMEError) -> [String] in
            var seen = [Self.currentThreadName()]
            await Task.yield()
            seen.append(Self.currentThreadName())
            // A nonisolated async call, as the HTTP client's are, and a structured child task
            // inherit the preference (an unstructured `Task {}` would not; the client makes none).
            seen.append(await Self.threadNameAfterSuspending())
            async let child = Self.threadNameAfterSuspending()
            seen.append(await child)
            return seen
        }
        #expect(names.count == 4, "\(names)")
        for name in names {
            #expect(name.hasPrefix(ACMETaskExecutor.threadNamePrefix), "ran on \(name) of \(names)")
        }
    }

    @Test func errorsAndResultsReachTheWaitingThread() throws {
        #expect(try ACMEBlocking.run { () async throws(ACMEError) -> Int in 42 } == 42)
        let error = #expect(throws: ACMEError.self) {
            try ACMEBlocking.run { () async throws(ACMEError) -> Int in
                throw ACMEError(.cancelled("stop"), operation: "test")
            }
        }
        #expect(error.map { "\($0)" }?.contains("stop") == true)
    }

    private static func threadNameAfterSuspending() async -> String {
        await Task.yield()
        return currentThreadName()
    }

    /// The caller's thread: the executor's own, or the name of another (synchronous, so async code may ask).
    private static func currentThreadName() -> String {
        ACMETaskExecutor.isCurrentThreadOwn ? ACMETaskExecutor.threadNamePrefix : "other: \(Thread.current.name ?? "?")"
    }
}
