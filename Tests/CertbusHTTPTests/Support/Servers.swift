import Foundation

@testable import CertbusHTTP

#if canImport(Glibc)
import Glibc
#endif

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

/// A loopback port that was free a moment ago and on which nothing listens now.
func closedLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0 else { throw POSIXError(.EADDRINUSE) }
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
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
