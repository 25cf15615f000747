import Foundation

/// `openssl s_server -www` on 127.0.0.1 with an ephemeral port, killed (SIGKILL) at deinit: a
/// real TLS server presenting the certificates it is given.
public final class OpenSSLTestServer: @unchecked Sendable {
    private let process: ServerProcess
    /// The port s_server reported in its `ACCEPT 127.0.0.1:<port>` line; it accepts connections.
    public let port: Int

    /// Starts `openssl s_server -accept 127.0.0.1:0 -www arguments…` (certificate options such
    /// as `-cert`, `-key`, `-cert_chain`, `-servername`, `-cert2`) and waits until it reports its
    /// port. Throws `TestServerFailure` with s_server's output when it exits first.
    public init(arguments: [String]) throws {
        process = try ServerProcess(
            executable: OpenSSLCommand.path, arguments: ["s_server", "-accept", "127.0.0.1:0", "-www"] + arguments,
            ready: { Self.acceptedPort(in: $0) != nil })
        guard let port = Self.acceptedPort(in: process.output) else {
            throw TestServerFailure("openssl s_server did not report its port: \(process.output)")
        }
        self.port = port
    }

    /// Serves the certificate and key at these PEM paths, followed by the certificates in the PEM
    /// file `chain` when given.
    public convenience init(certificate: String, key: String, chain: String? = nil) throws {
        var arguments = ["-cert", certificate, "-key", key]
        if let chain { arguments += ["-cert_chain", chain] }
        try self.init(arguments: arguments)
    }

    /// The port of a complete `ACCEPT 127.0.0.1:<port>` line in `text`.
    private static func acceptedPort(in text: String) -> Int? {
        guard let range = text.range(of: "ACCEPT 127.0.0.1:") else { return nil }
        let digits = text[range.upperBound...].prefix { $0.isNumber }
        guard text[range.upperBound...].dropFirst(digits.count).first?.isNewline == true else { return nil }
        return Int(digits)
    }
}
