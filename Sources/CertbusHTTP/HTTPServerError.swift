/// Why an `HTTPServer` could not start.
public struct HTTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The address the server was asked to listen on, as `host:port`.
    public let address: String
    /// What went wrong, e.g. `bind: Address already in use`.
    public let reason: String

    /// Makes an error.
    public init(address: String, reason: String) {
        self.address = address
        self.reason = reason
    }

    /// `cannot listen on <address>: <reason>`.
    public var description: String { "cannot listen on \(address): \(reason)" }
}
