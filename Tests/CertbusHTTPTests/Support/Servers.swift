import Foundation

@testable import CertbusHTTP

/// Runs `body` with a started `HTTPServer` on 127.0.0.1 and stops it afterwards.
func withServer<T>(
    _ configuration: HTTPServer.Configuration = HTTPServer.Configuration(),
    handler: @escaping HTTPServer.Handler,
    _ body: (HTTPServer) async throws -> T
) async throws -> T {
    let server = HTTPServer(configuration: configuration, handler: handler)
    try server.start()
    defer { server.stop() }
    return try await body(server)
}

/// Sends raw bytes to a loopback port and returns everything received until the peer closes.
func rawExchange(port: Int, _ request: Data) throws -> String {
    let fd = try Socket.connect(host: "127.0.0.1", port: port, deadline: .after(.seconds(10)))
    let stream = SocketStream(fd: fd, deadline: .after(.seconds(10)))
    defer { stream.close() }
    try stream.write(request)
    let reader = MessageReader(stream: stream)
    return String(decoding: try reader.readBody(.untilClose, limit: 1 << 20), as: UTF8.self)
}

/// The kind of the `HTTPError` thrown by `body`, or nil when it did not throw one.
func httpErrorKind(_ body: () async throws -> HTTPResponse) async -> HTTPError.Kind? {
    do {
        _ = try await body()
        return nil
    } catch let error as HTTPError {
        return error.kind
    } catch {
        return nil
    }
}
