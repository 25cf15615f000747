/// Why reading an HTTP message (request or response) failed.
enum MessageError: Error, Equatable {
    /// The stream ended before the message was complete.
    case closed
    /// The bytes are not valid HTTP/1.x; the reason names what was wrong.
    case malformed(String)
    /// The start line plus header fields (or the chunked trailer) exceed the limit in bytes.
    case headTooLarge(limit: Int)
    /// The body exceeds the limit in bytes.
    case bodyTooLarge(limit: Int)
    /// A framing the reader does not implement (e.g. a request transfer coding other than chunked).
    case unsupported(String)
    /// The underlying stream failed (including `.timedOut`).
    case transport(TransportError)
}
