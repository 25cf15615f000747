import Foundation

@testable import CertbusHTTP

/// An in-memory `ByteStream` that hands out its input in pieces of at most `pieceSize` bytes
/// and records what is written.
final class MemoryStream: ByteStream {
    var deadline = Deadline.after(.seconds(60))
    private var input: [UInt8]
    private var offset = 0
    private let pieceSize: Int
    private(set) var written = Data()
    /// What to throw once the input is exhausted (nil: end of stream).
    var errorAtEnd: TransportError?

    init(_ input: String, pieceSize: Int = 1 << 20) {
        self.input = Array(input.utf8)
        self.pieceSize = pieceSize
    }

    init(bytes: [UInt8], pieceSize: Int = 1 << 20) {
        self.input = bytes
        self.pieceSize = pieceSize
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws(TransportError) -> Int {
        if offset == input.count, let errorAtEnd { throw errorAtEnd }
        let n = min(buffer.count, pieceSize, input.count - offset)
        for i in 0..<n { buffer[i] = input[offset + i] }
        offset += n
        return n
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws(TransportError) {
        written.append(contentsOf: bytes)
    }

    func close() {}
}
