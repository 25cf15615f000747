/// An HTTP request method such as `GET` or `POST`.
///
/// Any RFC 9110 token is accepted; the common methods have static members.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, ExpressibleByStringLiteral,
    CustomStringConvertible
{
    /// The method exactly as sent on the wire (case-sensitive, usually upper case).
    public let rawValue: String

    /// Wraps a method name. Validity (a token) is checked when the request is sent.
    public init(rawValue: String) { self.rawValue = rawValue }

    /// Wraps a method name given as a literal.
    public init(stringLiteral value: String) { self.rawValue = value }

    /// `GET`
    public static let get: HTTPMethod = "GET"
    /// `HEAD`: responses never carry a body.
    public static let head: HTTPMethod = "HEAD"
    /// `POST`
    public static let post: HTTPMethod = "POST"
    /// `PUT`
    public static let put: HTTPMethod = "PUT"
    /// `PATCH`
    public static let patch: HTTPMethod = "PATCH"
    /// `DELETE`
    public static let delete: HTTPMethod = "DELETE"
    /// `OPTIONS`
    public static let options: HTTPMethod = "OPTIONS"

    /// The method name.
    public var description: String { rawValue }
}
