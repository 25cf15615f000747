import Foundation

/// A value shared between a benchmark's threads, behind a lock.
final class BenchLocked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value

    init(_ value: Value) { stored = value }

    /// The current value.
    var value: Value {
        get { lock.withLock { stored } }
        set { lock.withLock { stored = newValue } }
    }

    /// Changes the value in place under the lock.
    func update<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try lock.withLock { try body(&stored) }
    }
}

extension BenchLocked where Value == Int {
    /// Adds `n` (a shared counter).
    func add(_ n: Int = 1) { update { $0 += n } }
}
