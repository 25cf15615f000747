import Foundation

/// A bidirectional byte stream with a deadline for every operation: a plain socket or TLS.
protocol ByteStream: AnyObject {
    /// The deadline for subsequent reads and writes.
    var deadline: Deadline { get set }
    /// Reads up to `buffer.count` bytes; returns 0 at end of stream.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int
    /// Writes all bytes.
    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError)
    /// Closes the stream; further calls fail. Idempotent.
    func close()
}

extension ByteStream {
    /// Writes all of `data`.
    func write(_ data: Data) throws(TransportError) {
        var failure: TransportError?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            do throws(TransportError) { try write(raw) } catch { failure = error }
        }
        if let failure { throw failure }
    }
}

/// A plain TCP connection over a non-blocking socket.
final class SocketStream: ByteStream {
    /// The socket; -1 once closed.
    private(set) var fd: Int32
    var deadline: Deadline
    private let ownsDescriptor: Bool

    /// Wraps the connected, non-blocking socket `fd`. When `owned`, `close()` (and deinit)
    /// closes it; otherwise `close()` only stops using it and the creator closes it.
    init(fd: Int32, deadline: Deadline, owned: Bool = true) {
        self.fd = fd
        self.deadline = deadline
        self.ownsDescriptor = owned
    }

    deinit { close() }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        try Socket.read(fd, into: buffer, until: deadline)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        try Socket.write(fd, bytes, until: deadline)
    }

    func close() {
        if fd >= 0 {
            if ownsDescriptor { Socket.closeDescriptor(fd) }
            fd = -1
        }
    }
}
