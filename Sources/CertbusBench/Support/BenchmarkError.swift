/// A benchmark that could not run or whose run went wrong (a worker died, jobs failed,
/// pgbench missing): the message says what and, where it helps, shows the child's log.
public struct BenchmarkError: Error, CustomStringConvertible {
    /// What went wrong, for the operator.
    public var message: String
    /// A failure described by `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
