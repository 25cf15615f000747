import Foundation

/// Where a command writes text: the terminal, or a buffer in tests.
public protocol TextOutput: Sendable {
    /// Writes `text` as is (no newline added).
    func write(_ text: String)
}

/// The process's standard output, unbuffered.
public struct StandardOutput: TextOutput {
    /// Standard output.
    public init() {}
    /// Writes to file descriptor 1.
    public func write(_ text: String) { FileHandle.standardOutput.write(Data(text.utf8)) }
}

/// The process's standard error, unbuffered.
public struct StandardError: TextOutput {
    /// Standard error.
    public init() {}
    /// Writes to file descriptor 2.
    public func write(_ text: String) { FileHandle.standardError.write(Data(text.utf8)) }
}

/// Collects everything written, for tests.
public final class CapturedOutput: TextOutput, @unchecked Sendable {
    private let lock = NSLock()
    private var buffer = ""
    /// An empty buffer.
    public init() {}
    /// Appends `text`.
    public func write(_ text: String) { lock.withLock { buffer += text } }
    /// Everything written so far.
    public var text: String { lock.withLock { buffer } }
}
