#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Non-blocking socket operations with deadlines, shared by the client and the server.
enum Socket {
    #if canImport(Glibc)
    static let streamType = Int32(SOCK_STREAM.rawValue)
    static let noSignal = Int32(MSG_NOSIGNAL)
    #else
    static let streamType = SOCK_STREAM
    static let noSignal: Int32 = 0
    #endif

    /// Resolves `host` and connects to the first address that accepts, trying each in turn
    /// until `deadline`. Returns a non-blocking, close-on-exec socket with TCP_NODELAY.
    static func connect(host: String, port: Int, deadline: Deadline) throws(TransportError) -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = streamType
        hints.ai_flags = AI_NUMERICSERV
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            if status == EAI_SYSTEM { throw .system(operation: "getaddrinfo", errno: errno) }
            throw .dns(String(cString: gai_strerror(status)))
        }
        defer { freeaddrinfo(list) }

        var lastError = TransportError.refused
        var sawOnlyRefusals = true
        var current: UnsafeMutablePointer<addrinfo>? = first
        while let info = current {
            current = info.pointee.ai_next
            if deadline.hasPassed { throw .timedOut }
            do throws(TransportError) {
                return try connect(address: info.pointee, deadline: deadline)
            } catch .timedOut {
                throw .timedOut
            } catch {
                if error != .refused { sawOnlyRefusals = false }
                lastError = error
            }
        }
        throw sawOnlyRefusals ? .refused : lastError
    }

    /// Connects one resolved address with a non-blocking connect bounded by `deadline`.
    private static func connect(address: addrinfo, deadline: Deadline) throws(TransportError) -> Int32 {
        let fd = socket(address.ai_family, address.ai_socktype, address.ai_protocol)
        guard fd >= 0 else { throw .system(operation: "socket", errno: errno) }
        do throws(TransportError) {
            try configure(fd)
            if systemConnect(fd, address.ai_addr, address.ai_addrlen) != 0 {
                let code = errno
                guard code == EINPROGRESS || code == EINTR else { throw connectError(code) }
                try wait(fd, for: Int16(POLLOUT), until: deadline)
                var soError: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &length) == 0 else {
                    throw .system(operation: "getsockopt", errno: errno)
                }
                if soError != 0 { throw connectError(soError) }
            }
            var one: Int32 = 1
            _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return fd
        } catch {
            closeDescriptor(fd)
            throw error
        }
    }

    private static func systemConnect(_ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>!, _ length: socklen_t)
        -> Int32
    {
        #if canImport(Glibc)
        Glibc.connect(fd, address, length)
        #else
        Darwin.connect(fd, address, length)
        #endif
    }

    private static func connectError(_ code: Int32) -> TransportError {
        code == ECONNREFUSED ? .refused : .system(operation: "connect", errno: code)
    }

    /// Closes a descriptor, ignoring errors.
    static func closeDescriptor(_ fd: Int32) {
        #if canImport(Glibc)
        _ = Glibc.close(fd)
        #else
        _ = Darwin.close(fd)
        #endif
    }

    /// Makes `fd` non-blocking and close-on-exec.
    static func configure(_ fd: Int32) throws(TransportError) {
        let flags = fcntl(fd, F_GETFL)
        guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
            throw .system(operation: "fcntl", errno: errno)
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    /// Waits until `fd` is ready for `events` (POLLIN / POLLOUT) or throws `.timedOut`.
    /// Hang-up and error conditions count as ready so the next call reports them.
    static func wait(_ fd: Int32, for events: Int16, until deadline: Deadline) throws(TransportError) {
        var descriptor = pollfd(fd: fd, events: events, revents: 0)
        while true {
            let timeout = deadline.remainingMilliseconds()
            if timeout == 0 { throw .timedOut }
            let result = poll(&descriptor, 1, Int32(timeout))
            if result > 0 { return }
            if result == 0 { continue }  // loop re-checks the deadline
            if errno != EINTR { throw .system(operation: "poll", errno: errno) }
        }
    }

    /// Reads up to `buffer.count` bytes, waiting until `deadline`; returns 0 at end of stream.
    static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, until deadline: Deadline)
        throws(TransportError) -> Int
    {
        while true {
            let n = recv(fd, buffer.baseAddress, buffer.count, 0)
            if n >= 0 { return n }
            switch errno {
            case EAGAIN, EWOULDBLOCK: try wait(fd, for: Int16(POLLIN), until: deadline)
            case EINTR: continue
            case ECONNRESET: throw .peerClosed
            case let code: throw .system(operation: "recv", errno: code)
            }
        }
    }

    /// Writes all of `bytes`, waiting until `deadline`. Never raises SIGPIPE.
    static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, until deadline: Deadline) throws(TransportError) {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, noSignal)
            if n > 0 {
                offset += n
                continue
            }
            switch errno {
            case EAGAIN, EWOULDBLOCK: try wait(fd, for: Int16(POLLOUT), until: deadline)
            case EINTR: continue
            case EPIPE, ECONNRESET: throw .peerClosed
            case let code: throw .system(operation: "send", errno: code)
            }
        }
    }

    /// Ignores SIGPIPE for the whole process, once. OpenSSL writes to sockets with `write(2)`,
    /// which would otherwise kill the process when a TLS peer goes away mid-write.
    static let ignoreSIGPIPE: Void = {
        _ = signal(SIGPIPE, SIG_IGN)
    }()
}
