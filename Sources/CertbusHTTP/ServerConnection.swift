import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One accepted connection of an `HTTPServer`: reads one request, answers it, and leaves the
/// socket for the server to close.
struct ServerConnection {
    let fd: Int32
    let remoteAddress: String
    let configuration: HTTPServer.Configuration
    let handler: HTTPServer.Handler

    /// The result of reading a request.
    private enum Incoming {
        case request(HTTPRequest)
        /// Answer with this status without calling the handler; the request may be unread.
        case reject(Int, String)
        /// Nothing sensible to answer (peer went away).
        case drop
    }

    /// Serves the connection to completion. Never throws: failures end the connection.
    func serve() {
        let stream = SocketStream(fd: fd, deadline: .after(configuration.readTimeout), owned: false)
        let reader = MessageReader(stream: stream)
        switch readRequest(reader, stream: stream) {
        case .drop:
            return
        case .reject(let status, let message):
            respond(.text(message + "\n", status: status), method: .get, stream: stream)
            lingeringClose(stream)
        case .request(let request):
            let response: HTTPResponse
            do {
                response = try handler(request)
            } catch is HTTPServer.DropConnection {
                return
            } catch {
                response = .text("internal server error\n", status: 500)
            }
            respond(response, method: request.method, stream: stream)
        }
    }

    private func readRequest(_ reader: MessageReader, stream: SocketStream) -> Incoming {
        do throws(MessageError) {
            let lines = try reader.readHead(limit: configuration.maxHeadBytes)
            let line = try MessageHead.parseRequestLine(lines[0])
            let headers = try MessageHead.parseFields(lines.dropFirst())
            if line.version == "HTTP/1.1" && headers.values(for: "Host").count != 1 {
                return .reject(400, "exactly one Host header is required")
            }
            let framing = try BodyFraming.forRequest(headers: headers)
            if case .length(let length) = framing, length > configuration.maxBodyBytes {
                return .reject(413, "request body larger than \(configuration.maxBodyBytes) bytes")
            }
            if framing != .empty, headers["Expect"]?.lowercased() == "100-continue" {
                stream.deadline = .after(configuration.writeTimeout)
                try? stream.write(Data("HTTP/1.1 100 Continue\r\n\r\n".utf8))
                stream.deadline = .after(configuration.readTimeout)
            }
            let body = try reader.readBody(framing, limit: configuration.maxBodyBytes)
            return .request(
                HTTPRequest(
                    method: line.method, target: line.target, headers: headers, body: body,
                    remoteAddress: remoteAddress))
        } catch {
            switch error {
            case .closed, .transport(.peerClosed): return .drop
            case .transport(.timedOut): return .reject(408, "request not received in time")
            case .transport: return .drop
            case .headTooLarge(let limit): return .reject(431, "request head larger than \(limit) bytes")
            case .bodyTooLarge(let limit): return .reject(413, "request body larger than \(limit) bytes")
            case .malformed(let why): return .reject(400, "bad request: \(why)")
            case .unsupported(let why): return .reject(501, "not implemented: \(why)")
            }
        }
    }

    /// Writes the response, or a plain 500 when the handler's response has an invalid status,
    /// reason or header field.
    private func respond(_ response: HTTPResponse, method: HTTPMethod, stream: SocketStream) {
        stream.deadline = .after(configuration.writeTimeout)
        var response = response
        var head = MessageWriter.responseHead(response, method: method)
        if head == nil {
            response = .text("internal server error\n", status: 500)
            head = MessageWriter.responseHead(response, method: method)
        }
        guard let (bytes, sendBody) = head else { return }
        try? stream.write(sendBody ? bytes + response.body : bytes)
    }

    /// After answering without reading the whole request: stop sending, then read and discard
    /// what the client still sends (briefly, bounded) so that closing does not reset the
    /// connection before the client has read the response.
    private func lingeringClose(_ stream: SocketStream) {
        _ = shutdown(fd, Int32(SHUT_WR))
        stream.deadline = .after(.seconds(1))
        var discarded = 0
        var scratch = [UInt8](repeating: 0, count: 16 * 1024)
        while discarded < 4 << 20 {
            let n = scratch.withUnsafeMutableBytes { (try? stream.read(into: $0)) ?? 0 }
            if n <= 0 { return }
            discarded += n
        }
    }
}
