import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A one-shot TCP server on 127.0.0.1 that reads a request head and answers with exactly the
/// bytes it was given (for hand-written chunked, close-delimited or broken responses).
final class RawResponder: @unchecked Sendable {
    let port: Int
    private let listener: Int32
    private let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var receivedRequest = Data()

    /// Listens and answers the first connection with `response`, then closes it.
    init(response: Data) throws {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.listener = listener
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) }
        }
        guard bound == 0, listen(listener, 4) == 0 else { throw POSIXError(.EADDRINUSE) }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        Thread { [self] in
            let fd = accept(listener, nil, nil)
            if fd >= 0 {
                var request = Data()
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !request.contains("\r\n\r\n".utf8) {
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n <= 0 { break }
                    request.append(contentsOf: buffer[0..<n])
                }
                lock.withLock { receivedRequest = request }
                response.withUnsafeBytes { raw in
                    var offset = 0
                    while offset < raw.count {
                        let n = send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                        if n <= 0 { break }
                        offset += n
                    }
                }
                close(fd)
            }
            done.signal()
        }.start()
    }

    /// Convenience for a textual response.
    convenience init(_ text: String) throws { try self.init(response: Data(text.utf8)) }

    var url: URL { URL(string: "http://127.0.0.1:\(port)/raw")! }

    /// The request head the responder read, once it has answered.
    var request: String {
        done.wait()
        done.signal()
        return lock.withLock { String(decoding: receivedRequest, as: UTF8.self) }
    }

    deinit {
        _ = shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
    }
}

extension Data {
    func contains(_ bytes: String.UTF8View) -> Bool { range(of: Data(bytes)) != nil }
}
