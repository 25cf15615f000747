import Foundation

/// Buffered reading of HTTP/1.x message heads and bodies from a `ByteStream`, with size limits.
final class MessageReader {
    private let stream: ByteStream
    private var buffer: [UInt8] = []
    private var position = 0
    private static let readSize = 16 * 1024
    /// How many empty lines may precede a start line (RFC 9112 §2.2 robustness).
    private static let maxLeadingEmptyLines = 4

    /// Reads from `stream`; the reader does not close it.
    init(stream: ByteStream) {
        self.stream = stream
    }

    /// Reads more bytes into the buffer; false at end of stream.
    private func fill() throws(MessageError) -> Bool {
        if position > 0 && position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
        }
        let oldCount = buffer.count
        buffer.append(contentsOf: repeatElement(0, count: Self.readSize))
        var result: Result<Int, TransportError> = .success(0)
        buffer.withUnsafeMutableBytes { raw in
            do throws(TransportError) {
                result = .success(try stream.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[oldCount...])))
            } catch {
                result = .failure(error)
            }
        }
        let n: Int
        switch result {
        case .success(let count): n = count
        case .failure(let error):
            buffer.removeSubrange(oldCount...)
            throw .transport(error)
        }
        buffer.removeSubrange((oldCount + n)...)
        return n > 0
    }

    /// Reads one line ending in LF (an optional CR before it is dropped), charging its bytes
    /// against `budget`. Throws `overBudget` when the budget runs out, `.closed` at end of stream.
    private func readLine(budget: inout Int, overBudget: MessageError) throws(MessageError) -> [UInt8] {
        var scannedCount = 0  // bytes after `position` known to hold no LF (fill may move them)
        while true {
            if let lf = buffer[(position + scannedCount)...].firstIndex(of: UInt8(ascii: "\n")) {
                let consumed = lf + 1 - position
                guard consumed <= budget else { throw overBudget }
                budget -= consumed
                var end = lf
                if end > position && buffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = Array(buffer[position..<end])
                position = lf + 1
                return line
            }
            scannedCount = buffer.count - position
            guard scannedCount <= budget else { throw overBudget }
            guard try fill() else { throw .closed }
        }
    }

    /// Reads a start line and header lines up to the empty line, at most `limit` bytes in all.
    /// Returns the lines without terminators (start line first). Bare CRs and NULs are rejected.
    func readHead(limit: Int) throws(MessageError) -> [String] {
        var budget = limit
        var lines: [String] = []
        var leadingEmpty = 0
        while true {
            let line = try readLine(budget: &budget, overBudget: .headTooLarge(limit: limit))
            if line.isEmpty {
                if lines.isEmpty {
                    leadingEmpty += 1
                    if leadingEmpty > Self.maxLeadingEmptyLines { throw .malformed("empty lines instead of a start line") }
                    continue
                }
                return lines
            }
            if line.contains(0) || line.contains(UInt8(ascii: "\r")) {
                throw .malformed("control character in message head")
            }
            lines.append(String(decoding: line, as: UTF8.self))
        }
    }

    /// Reads a body framed as `framing`, at most `limit` bytes. Trailer fields of a chunked
    /// body are read and discarded, bounded by `trailerLimit` bytes.
    func readBody(_ framing: BodyFraming, limit: Int, trailerLimit: Int = 16 * 1024) throws(MessageError) -> Data {
        switch framing {
        case .empty:
            return Data()
        case .length(let length):
            guard length <= limit else { throw .bodyTooLarge(limit: limit) }
            var body = Data()
            try readExactly(length, into: &body)
            return body
        case .chunked:
            return try readChunked(limit: limit, trailerLimit: trailerLimit)
        case .untilClose:
            var body = Data()
            while true {
                if position < buffer.count {
                    guard body.count + buffer.count - position <= limit else { throw .bodyTooLarge(limit: limit) }
                    body.append(contentsOf: buffer[position...])
                    position = buffer.count
                }
                guard try fill() else { return body }
            }
        }
    }

    /// Appends exactly `count` bytes to `body`; `.closed` if the stream ends first.
    private func readExactly(_ count: Int, into body: inout Data) throws(MessageError) {
        var remaining = count
        while remaining > 0 {
            if position == buffer.count {
                guard try fill() else { throw .closed }
            }
            let take = min(remaining, buffer.count - position)
            body.append(contentsOf: buffer[position..<(position + take)])
            position += take
            remaining -= take
        }
    }

    private func readChunked(limit: Int, trailerLimit: Int) throws(MessageError) -> Data {
        var body = Data()
        while true {
            var lineBudget = 4096
            let sizeLine = try readLine(budget: &lineBudget, overBudget: .malformed("chunk size line too long"))
            let size = try ChunkSize.parse(sizeLine)
            if size == 0 { break }
            guard size <= limit - body.count else { throw .bodyTooLarge(limit: limit) }
            try readExactly(size, into: &body)
            var endBudget = 2
            let end = try readLine(budget: &endBudget, overBudget: .malformed("missing CRLF after chunk data"))
            guard end.isEmpty else { throw .malformed("missing CRLF after chunk data") }
        }
        var budget = trailerLimit
        while try !readLine(budget: &budget, overBudget: .headTooLarge(limit: trailerLimit)).isEmpty {}
        return body
    }
}

/// Parsing of a chunk-size line (`1a2b;ext=1`).
enum ChunkSize {
    /// The chunk size in a chunk-size line, ignoring chunk extensions; throws `.malformed` for
    /// anything that is not 1–15 hex digits.
    static func parse(_ line: [UInt8]) throws(MessageError) -> Int {
        var digits = line[...]
        if let semicolon = line.firstIndex(of: UInt8(ascii: ";")) { digits = line[..<semicolon] }
        while let last = digits.last, last == UInt8(ascii: " ") || last == UInt8(ascii: "\t") {
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.count <= 15 else { throw .malformed("invalid chunk size") }
        var value = 0
        for byte in digits {
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
            default: throw .malformed("invalid chunk size")
            }
            value = value * 16 + digit
        }
        return value
    }
}
