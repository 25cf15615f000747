import Foundation

extension Data {
    /// The unpadded base64url encoding (RFC 4648 §5) used by JOSE/ACME (RFC 7515 §2):
    /// `-` and `_` instead of `+` and `/`, no `=` padding.
    public func base64URLEncodedString() -> String {
        var text = base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Decodes unpadded base64url text. Returns nil for anything else: padding, `+` or `/`,
    /// whitespace, other characters, or a length that no encoding produces (length % 4 == 1).
    public init?(base64URLEncoded text: String) {
        let allowed = text.utf8.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"):
                true
            default: false
            }
        }
        guard allowed, text.utf8.count % 4 != 1 else { return nil }
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: standard) else { return nil }
        // Reject non-canonical encodings (unused low bits set), so each value has one text form.
        guard data.base64URLEncodedString() == text else { return nil }
        self = data
    }
}
