import Foundation

/// Lowercase hexadecimal text for bytes.
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// `bytes` as lowercase hex, two digits per byte, no separators.
    public static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes hex (either case, optional ":" separators between bytes); nil on any other character
    /// or an odd number of digits.
    public static func decode(_ text: String) -> Data? {
        var nibbles: [UInt8] = []
        nibbles.reserveCapacity(text.utf8.count)
        for character in text.utf8 {
            switch character {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibbles.append(character - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibbles.append(character - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibbles.append(character - UInt8(ascii: "A") + 10)
            case UInt8(ascii: ":"): continue
            default: return nil
            }
        }
        guard nibbles.count % 2 == 0 else { return nil }
        var out = Data(capacity: nibbles.count / 2)
        var index = 0
        while index < nibbles.count {
            out.append(nibbles[index] << 4 | nibbles[index + 1])
            index += 2
        }
        return out
    }
}
