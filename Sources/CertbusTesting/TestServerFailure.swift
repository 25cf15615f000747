/// A test server (pebble, `openssl s_server`, …) did not start or did not answer as expected;
/// `description` says what happened, with the server's output where there is any.
public struct TestServerFailure: Error, CustomStringConvertible {
    /// What went wrong, with the server's output where there is any.
    public let description: String

    /// A failure described by `description`.
    public init(_ description: String) { self.description = description }
}
