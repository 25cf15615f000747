import Dispatch
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small threaded HTTP/1.1 server for loopback use (ACME http-01 responder, test webhook
/// receivers, health endpoints).
///
/// One thread accepts connections; each connection gets its own thread, reads one request
/// (bounded head and body size, bounded time), calls the handler and answers with
/// `Connection: close`. Handlers run concurrently and must be thread-safe.
public final class HTTPServer: @unchecked Sendable {
    /// Where to listen and the limits applied to every request.
    public struct Configuration: Sendable, Equatable {
        /// The address to bind: an IP literal or a host name (first resolved address).
        public var host: String
        /// The port to bind; 0 picks a free ephemeral port (see `HTTPServer.port`).
        public var port: Int
        /// Largest request line plus header fields, in bytes (431 beyond).
        public var maxHeadBytes: Int
        /// Largest request body, in bytes (413 beyond).
        public var maxBodyBytes: Int
        /// Time allowed to receive the whole request (head and body).
        public var readTimeout: Duration
        /// Time allowed to send the response.
        public var writeTimeout: Duration
        /// Connections served at once; further connections are closed immediately.
        public var maxConnections: Int

        /// Defaults: 127.0.0.1, ephemeral port, 16 KiB head, 1 MiB body, 10 s each way, 64 connections.
        public init(
            host: String = "127.0.0.1", port: Int = 0, maxHeadBytes: Int = 16 << 10, maxBodyBytes: Int = 1 << 20,
            readTimeout: Duration = .seconds(10), writeTimeout: Duration = .seconds(10), maxConnections: Int = 64
        ) {
            self.host = host
            self.port = port
            self.maxHeadBytes = maxHeadBytes
            self.maxBodyBytes = maxBodyBytes
            self.readTimeout = readTimeout
            self.writeTimeout = writeTimeout
            self.maxConnections = maxConnections
        }
    }

    /// Produces the response to a request. Throwing `DropConnection` closes the connection
    /// without a response; any other error yields a plain 500 (the error text is not sent).
    public typealias Handler = @Sendable (HTTPRequest) throws -> HTTPResponse

    /// Thrown by a handler to close the connection without answering.
    public struct DropConnection: Error, Sendable {
        /// Makes the marker error.
        public init() {}
    }

    private enum State {
        case idle
        case running(listener: Int32, wakeRead: Int32, wakeWrite: Int32)
        case stopped
    }

    /// The configuration the server was created with.
    public let configuration: Configuration
    private let handler: Handler
    private let lock = NSLock()
    private var state = State.idle
    private var boundPort = 0
    private var connections = Set<Int32>()
    private let connectionThreads = DispatchGroup()
    private let acceptThread = DispatchGroup()

    /// Makes a server that is not yet listening.
    public init(configuration: Configuration = Configuration(), handler: @escaping Handler) {
        self.configuration = configuration
        self.handler = handler
    }

    deinit { stop() }

    /// The bound TCP port once started (the real one when configured with port 0), else 0.
    public var port: Int { lock.withLock { boundPort } }

    /// The number of connections being served right now (for tests and diagnostics).
    var openConnectionCount: Int { lock.withLock { connections.count } }

    /// `http://host:port` for the running server (IPv6 hosts bracketed).
    public var baseURL: URL {
        let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
        return URL(string: "http://\(host):\(port)")!
    }

    /// Binds and listens, then serves on background threads until `stop()`. Throws when the
    /// address cannot be bound or the server was already started.
    public func start() throws(HTTPServerError) {
        let address = "\(configuration.host):\(configuration.port)"
        func failure(_ reason: String) -> HTTPServerError { HTTPServerError(address: address, reason: reason) }
        lock.lock()
        defer { lock.unlock() }
        guard case .idle = state else { throw failure("server already started or stopped") }
        let listener: Int32
        let port: Int
        do throws(TransportError) {
            (listener, port) = try Listener.open(host: configuration.host, port: configuration.port)
        } catch {
            throw failure(error.message)
        }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else {
            Socket.closeDescriptor(listener)
            throw failure("pipe: \(String(cString: strerror(errno)))")
        }
        for end in pipeEnds { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        state = .running(listener: listener, wakeRead: pipeEnds[0], wakeWrite: pipeEnds[1])
        boundPort = port
        acceptThread.enter()
        let wakeRead = pipeEnds[0]
        let thread = Thread { [self] in
            acceptLoop(listener: listener, wake: wakeRead)
            acceptThread.leave()
        }
        thread.name = "certbus-http-accept"
        thread.start()
    }

    /// Stops accepting, closes the listening socket, shuts down open connections and waits
    /// for the accept thread and all connection threads (including running handlers) to end.
    /// Idempotent; a stopped server cannot be started again.
    public func stop() {
        let running: (listener: Int32, wakeRead: Int32, wakeWrite: Int32)? = lock.withLock {
            defer { state = .stopped }
            if case .running(let listener, let wakeRead, let wakeWrite) = state {
                return (listener, wakeRead, wakeWrite)
            }
            return nil
        }
        guard let running else { return }
        var byte: UInt8 = 1
        _ = write(running.wakeWrite, &byte, 1)
        acceptThread.wait()
        for fd in [running.listener, running.wakeRead, running.wakeWrite] { Socket.closeDescriptor(fd) }
        lock.withLock {
            for fd in connections { _ = shutdown(fd, Int32(SHUT_RDWR)) }
        }
        connectionThreads.wait()
    }

    private func acceptLoop(listener: Int32, wake: Int32) {
        var descriptors = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&descriptors, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if descriptors[1].revents != 0 { return }
            guard descriptors[0].revents != 0 else { continue }
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            if fd < 0 {
                if errno == EMFILE || errno == ENFILE { usleep(10_000) }
                continue
            }
            let remote = Listener.describe(storage)
            let admitted = lock.withLock {
                guard connections.count < configuration.maxConnections, (try? Socket.configure(fd)) != nil else {
                    return false
                }
                connections.insert(fd)
                connectionThreads.enter()
                return true
            }
            guard admitted else {
                Socket.closeDescriptor(fd)
                continue
            }
            let thread = Thread { [self] in
                let connection = ServerConnection(
                    fd: fd, remoteAddress: remote, configuration: configuration, handler: handler)
                connection.serve()
                lock.withLock {
                    connections.remove(fd)
                    Socket.closeDescriptor(fd)
                }
                connectionThreads.leave()
            }
            thread.name = "certbus-http-connection"
            thread.start()
        }
    }
}
