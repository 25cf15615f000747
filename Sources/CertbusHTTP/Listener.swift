import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Opening listening sockets and describing peer addresses.
enum Listener {
    /// Binds `host:port` (first resolved address, SO_REUSEADDR) and listens. Returns the
    /// non-blocking socket and the bound port.
    static func open(host: String, port: Int) throws(TransportError) -> (Int32, Int) {
        guard (0...65535).contains(port) else { throw .dns("port \(port) out of range") }
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Socket.streamType
        hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let info = list?.pointee else { throw .dns(String(cString: gai_strerror(status))) }
        defer { freeaddrinfo(list) }
        let fd = socket(info.ai_family, info.ai_socktype, info.ai_protocol)
        guard fd >= 0 else { throw .system(operation: "socket", errno: errno) }
        do throws(TransportError) {
            var one: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            guard bind(fd, info.ai_addr, info.ai_addrlen) == 0 else { throw .system(operation: "bind", errno: errno) }
            guard listen(fd, 128) == 0 else { throw .system(operation: "listen", errno: errno) }
            try Socket.configure(fd)
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
            }
            guard named == 0 else { throw .system(operation: "getsockname", errno: errno) }
            return (fd, numericHostAndPort(storage)?.port ?? port)
        } catch {
            Socket.closeDescriptor(fd)
            throw error
        }
    }

    /// `ip:port` (or `[ip]:port` for IPv6) for a peer address, or `unknown`.
    static func describe(_ storage: sockaddr_storage) -> String {
        guard let (host, port) = numericHostAndPort(storage) else { return "unknown" }
        return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    private static func numericHostAndPort(_ storage: sockaddr_storage) -> (host: String, port: Int)? {
        var storage = storage
        var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
        let length = socklen_t(
            Int32(storage.ss_family) == AF_INET6
                ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let result = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getnameinfo(
                    $0, length, &host, socklen_t(host.count), &service, socklen_t(service.count),
                    NI_NUMERICHOST | NI_NUMERICSERV)
            }
        }
        guard result == 0 else { return nil }
        let hostText = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let serviceText = String(decoding: service.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let port = Int(serviceText) else { return nil }
        return (hostText, port)
    }
}
