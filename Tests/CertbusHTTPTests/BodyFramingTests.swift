import Testing

@testable import CertbusHTTP

@Suite struct BodyFramingTests {
    @Test func responsesWithoutBodies() throws {
        let withLength: HTTPHeaders = ["Content-Length": "10"]
        #expect(try BodyFraming.forResponse(status: 200, method: .head, headers: withLength) == .empty)
        #expect(try BodyFraming.forResponse(status: 204, method: .get, headers: withLength) == .empty)
        #expect(try BodyFraming.forResponse(status: 304, method: .get, headers: withLength) == .empty)
        #expect(try BodyFraming.forResponse(status: 100, method: .get, headers: [:]) == .empty)
    }

    @Test func responseFramingFromHeaders() throws {
        #expect(try BodyFraming.forResponse(status: 200, method: .get, headers: ["Content-Length": "42"]) == .length(42))
        #expect(try BodyFraming.forResponse(status: 200, method: .get, headers: [:]) == .untilClose)
        #expect(try BodyFraming.forResponse(status: 200, method: .get, headers: ["Transfer-Encoding": "Chunked"]) == .chunked)
        // Transfer-Encoding wins over Content-Length; a non-final chunked means read to close.
        #expect(
            try BodyFraming.forResponse(
                status: 200, method: .get, headers: ["Transfer-Encoding": "chunked", "Content-Length": "3"]) == .chunked)
        #expect(try BodyFraming.forResponse(status: 200, method: .get, headers: ["Transfer-Encoding": "chunked, gzip"]) == .untilClose)
    }

    @Test func contentLengthValidation() throws {
        #expect(try BodyFraming.contentLength(HTTPHeaders([("Content-Length", "7"), ("content-length", "7")])) == 7)
        #expect(try BodyFraming.contentLength(["Content-Length": "7, 7"]) == 7)
        #expect(throws: MessageError.malformed("conflicting Content-Length values")) {
            try BodyFraming.contentLength(HTTPHeaders([("Content-Length", "7"), ("Content-Length", "8")]))
        }
        for bad in ["-1", "+5", "1e3", "", "99999999999999999999", " "] {
            #expect(throws: MessageError.self, "\(bad)") { try BodyFraming.contentLength(["Content-Length": bad]) }
        }
    }

    @Test func requestFraming() throws {
        #expect(try BodyFraming.forRequest(headers: [:]) == .empty)
        #expect(try BodyFraming.forRequest(headers: ["Content-Length": "0"]) == .empty)
        #expect(try BodyFraming.forRequest(headers: ["Content-Length": "3"]) == .length(3))
        #expect(try BodyFraming.forRequest(headers: ["Transfer-Encoding": "chunked"]) == .chunked)
        #expect(throws: MessageError.malformed("both Transfer-Encoding and Content-Length")) {
            try BodyFraming.forRequest(headers: ["Transfer-Encoding": "chunked", "Content-Length": "3"])
        }
        #expect(throws: MessageError.unsupported("transfer coding gzip, chunked")) {
            try BodyFraming.forRequest(headers: ["Transfer-Encoding": "gzip, chunked"])
        }
    }
}
