import Foundation

/// Unpadded base64url (RFC 4648 §5), as JOSE and ACME use it (RFC 7515 §2): `-` and `_`
/// instead of `+` and `/`, no `=` padding. The one base64url of certbus.
public enum Base64URL {
    /// Encodes `data` without padding.
    public static func encode(_ data: Data) -> String {
        var text = data.base64EncodedString()
        text = text.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
        while text.hasSuffix("=") { text.removeLast() }
        return text
    }

    /// Decodes unpadded base64url text. Returns nil for anything else: padding, `+` or `/`,
    /// whitespace, other characters, a length no encoding produces (length % 4 == 1), or a
    /// non-canonical encoding (unused low bits set), so every value has exactly one text form.
    public static func decode(_ text: String) -> Data? {
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
        guard let data = Data(base64Encoded: standard), encode(data) == text else { return nil }
        return data
    }
}
