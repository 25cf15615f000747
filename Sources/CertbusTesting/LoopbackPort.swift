import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// TCP ports on 127.0.0.1, for test servers and for "nothing listens there" tests.
public enum LoopbackPort {
    /// A port that was free a moment ago and on which nothing listens now (bound, read back,
    /// closed). Another process may take it meanwhile; throws when no port could be bound.
    public static func unused() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        defer { close(fd) }
        var address = loopback(port: 0)
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

    /// A port that refuses connections for as long as the returned reservation lives: it is
    /// bound (without SO_REUSEADDR) but never listened on, so no other socket can take it while
    /// a "nothing listens there" test runs. Throws when no port could be bound.
    public static func refusing() throws -> RefusingPort { try RefusingPort() }

    /// Whether a TCP connection to 127.0.0.1:`port` is accepted right now (the connection is
    /// closed at once).
    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
    }

    /// Waits until 127.0.0.1:`port` accepts connections, trying every 20 ms; returns false as
    /// soon as `deadline` passes or `stillWorthWaiting` turns false (e.g. the server exited).
    public static func waitUntilAccepting(
        _ port: Int, deadline: Date, while stillWorthWaiting: () -> Bool = { true }
    ) -> Bool {
        while !accepts(port) {
            guard Date() < deadline, stillWorthWaiting() else { return false }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return true
    }

    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        return address
    }
}

/// A loopback port held bound but not listening (see ``LoopbackPort/refusing()``): connections
/// to it are refused until ``release()`` or until it is deallocated.
public final class RefusingPort: @unchecked Sendable {
    /// The port number.
    public let port: Int
    private let lock = NSLock()
    private var fd: Int32

    fileprivate init() throws {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socketFD >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EMFILE) }
        var address = LoopbackPort.loopback(port: 0)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, length) }
        }
        guard bound == 0 else {
            close(socketFD)
            throw POSIXError(.EADDRINUSE)
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        fd = socketFD
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Frees the port (idempotent).
    public func release() {
        lock.withLock {
            if fd >= 0 { close(fd) }
            fd = -1
        }
    }

    deinit { release() }
}
