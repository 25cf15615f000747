import Foundation
import Testing

@testable import CertbusHTTP

@Suite struct MessageReaderTests {
    private func reader(_ text: String, pieceSize: Int = 1 << 20) -> MessageReader {
        MessageReader(stream: MemoryStream(text, pieceSize: pieceSize))
    }

    @Test(arguments: [1, 3, 1 << 20])
    func readsHeadAndLengthBodyInAnyPieceSize(pieceSize: Int) throws {
        let r = reader("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloEXTRA", pieceSize: pieceSize)
        #expect(try r.readHead(limit: 1000) == ["HTTP/1.1 200 OK", "Content-Length: 5", "X: y"])
        #expect(try r.readBody(.length(5), limit: 100) == Data("hello".utf8))
    }

    @Test func acceptsBareLFAndSkipsLeadingEmptyLines() throws {
        let r = reader("\r\n\nGET / HTTP/1.1\nHost: a\n\n")
        #expect(try r.readHead(limit: 1000) == ["GET / HTTP/1.1", "Host: a"])
    }

    @Test(arguments: [1, 7, 1 << 20])
    func decodesChunkedBodiesWithExtensionsAndTrailers(pieceSize: Int) throws {
        let wire = "5\r\nhello\r\n1A;name=value\r\n" + String(repeating: "x", count: 26) + "\r\n0\r\nTrailer: t\r\n\r\n"
        let r = reader(wire, pieceSize: pieceSize)
        #expect(try r.readBody(.chunked, limit: 100) == Data(("hello" + String(repeating: "x", count: 26)).utf8))
    }

    @Test func chunkedBodyOverTheLimitIsRejectedBeforeReadingIt() {
        let r = reader("10\r\n0123456789abcdef\r\n0\r\n\r\n")
        #expect(throws: MessageError.bodyTooLarge(limit: 15)) { try r.readBody(.chunked, limit: 15) }
    }

    @Test(arguments: ["zz\r\nab\r\n0\r\n\r\n", "\r\n", "5\r\nhelloXX0\r\n\r\n", "-1\r\n", "1234567890abcdef0\r\n"])
    func malformedChunkingIsRejected(_ wire: String) {
        #expect(throws: MessageError.self) { try reader(wire).readBody(.chunked, limit: 1 << 20) }
    }

    @Test func truncatedBodiesReportClosed() {
        #expect(throws: MessageError.closed) { try reader("abc").readBody(.length(10), limit: 100) }
        #expect(throws: MessageError.closed) { try reader("5\r\nhel").readBody(.chunked, limit: 100) }
        #expect(throws: MessageError.closed) { try reader("HTTP/1.1 200 OK\r\nX: 1\r\n").readHead(limit: 1000) }
    }

    @Test func lengthOverLimitIsRejectedWithoutReading() {
        #expect(throws: MessageError.bodyTooLarge(limit: 4)) { try reader("hello").readBody(.length(5), limit: 4) }
    }

    @Test func untilCloseReadsToEndAndHonoursTheLimit() throws {
        #expect(try reader("all of it", pieceSize: 2).readBody(.untilClose, limit: 9) == Data("all of it".utf8))
        #expect(throws: MessageError.bodyTooLarge(limit: 8)) {
            try reader("all of it", pieceSize: 2).readBody(.untilClose, limit: 8)
        }
    }

    @Test func headOverLimitIsRejectedEvenWithoutLineBreaks() {
        let long = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 5000)
        #expect(throws: MessageError.headTooLarge(limit: 1024)) { try reader(long, pieceSize: 100).readHead(limit: 1024) }
        #expect(throws: MessageError.headTooLarge(limit: 30)) {
            try reader("HTTP/1.1 200 OK\r\nX: 1\r\nY: 2\r\nZ: 3\r\n\r\n").readHead(limit: 30)
        }
    }

    @Test func controlCharactersInTheHeadAreRejected() {
        #expect(throws: MessageError.malformed("control character in message head")) {
            try reader("HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n").readHead(limit: 1000)
        }
        #expect(throws: MessageError.malformed("control character in message head")) {
            try MessageReader(stream: MemoryStream(bytes: Array("HTTP/1.1 200 OK\r\nX: a".utf8) + [0] + Array("\r\n\r\n".utf8)))
                .readHead(limit: 1000)
        }
    }

    @Test func transportErrorsAreWrapped() {
        let stream = MemoryStream("HTTP/1.1 200")
        stream.errorAtEnd = .timedOut
        #expect(throws: MessageError.transport(.timedOut)) { try MessageReader(stream: stream).readHead(limit: 1000) }
    }

    @Test func chunkSizeParsing() throws {
        #expect(try ChunkSize.parse(Array("0".utf8)) == 0)
        #expect(try ChunkSize.parse(Array("fF ;ext".utf8)) == 255)
        #expect(throws: MessageError.self) { try ChunkSize.parse(Array("0x10".utf8)) }
        #expect(throws: MessageError.self) { try ChunkSize.parse(Array(";ext".utf8)) }
    }
}
