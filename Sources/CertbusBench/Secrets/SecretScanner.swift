import Foundation

/// Where a secret was found: which secret, in which spelling, in which text. Never the secret.
public struct SecretFinding: Sendable, Equatable, Codable, CustomStringConvertible {
    /// The needle's name ("KEK", "private key of CA soak-ca").
    public var secret: String
    /// The spelling that matched (`base64`, `hex`, `PEM marker`, ...).
    public var encoding: String
    /// The text it was found in (a table row, a log file, a command's output).
    public var source: String
    /// Matches of this secret and spelling in that source.
    public var occurrences: Int

    /// "KEK (base64) in worker-1.log".
    public var description: String {
        "\(secret) (\(encoding)) in \(source)" + (occurrences > 1 ? " ×\(occurrences)" : "")
    }
}

/// Looks for many secrets at once in texts of any size: one pass per text, an 8-byte prefix
/// lookup per position, a full comparison only on a prefix hit. Pure; safe to share.
public struct SecretScanner: Sendable {
    private struct Entry: Sendable {
        var needle: Int
        var pattern: Int
    }

    /// The needles searched for.
    public let needles: [SecretNeedle]
    private let byPrefix: [UInt64: [Entry]]

    /// A scanner for `needles`; patterns shorter than 8 bytes are ignored.
    public init(_ needles: [SecretNeedle]) {
        self.needles = needles
        var index: [UInt64: [Entry]] = [:]
        for (n, needle) in needles.enumerated() {
            for (p, pattern) in needle.patterns.enumerated() where pattern.bytes.count >= 8 {
                index[Self.prefix(pattern.bytes[...]), default: []].append(Entry(needle: n, pattern: p))
            }
        }
        byPrefix = index
    }

    /// The number of patterns searched for.
    public var patternCount: Int { byPrefix.values.reduce(0) { $0 + $1.count } }

    /// Every needle found in `text` (after ``normalize(_:)``), one finding per needle and spelling.
    public func scan<Bytes: Collection>(_ text: Bytes, source: String) -> [SecretFinding] where Bytes.Element == UInt8 {
        let normalized = Self.normalize(text)
        guard normalized.count >= 8 else { return [] }
        var counts: [String: (SecretFinding)] = [:]
        normalized.withUnsafeBytes { raw in
            for position in 0...(raw.count - 8) {
                let key = raw.loadUnaligned(fromByteOffset: position, as: UInt64.self)
                guard let entries = byPrefix[key] else { continue }
                for entry in entries {
                    let pattern = needles[entry.needle].patterns[entry.pattern]
                    guard position + pattern.bytes.count <= raw.count,
                          pattern.bytes.elementsEqual(raw[position..<(position + pattern.bytes.count)])
                    else { continue }
                    let name = needles[entry.needle].name
                    let id = name + "\u{0}" + pattern.encoding
                    counts[id, default: SecretFinding(secret: name, encoding: pattern.encoding, source: source, occurrences: 0)]
                        .occurrences += 1
                }
            }
        }
        return counts.values.sorted { ($0.secret, $0.encoding) < ($1.secret, $1.encoding) }
    }

    /// Scans a string (its UTF-8 bytes).
    public func scan(_ text: String, source: String) -> [SecretFinding] { scan(Array(text.utf8), source: source) }

    /// Text as the patterns are compared with: whitespace and `:` removed, and every run of
    /// backslashes removed together with the `n`, `r` or `t` of an escape it starts — so a PEM
    /// body split into lines, the same inside a JSON string (`\n`, `\/`) or a record literal
    /// (`\\n`), and colon-separated hex all read as one unbroken run of characters.
    public static func normalize<Bytes: Collection>(_ text: Bytes) -> [UInt8] where Bytes.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var afterBackslash = false
        for byte in text {
            switch byte {
            case UInt8(ascii: "\\"):
                afterBackslash = true
                continue
            case UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                if afterBackslash {
                    afterBackslash = false
                    continue
                }
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"), UInt8(ascii: ":"):
                afterBackslash = false
                continue
            default:
                break
            }
            afterBackslash = false
            out.append(byte)
        }
        return out
    }

    static func prefix(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { raw in
            for (i, byte) in bytes.prefix(8).enumerated() { raw[i] = byte }
        }
        return value
    }
}
