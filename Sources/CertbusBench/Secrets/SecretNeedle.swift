import Foundation
import PKI

/// One secret to look for, as the byte patterns its leaks would contain.
///
/// A secret can leak in many spellings: inside a PEM or a JSON string (base64, split into lines,
/// with `\n` escapes), as a JWK member (base64url), as hex (with or without `:`), or raw in a
/// bytea column (read back as hex). Base64 groups bytes in threes from the start of whatever was
/// encoded, so the secret's bytes land at one of three alignments; a needle therefore holds the
/// base64 and base64url of 15-byte windows of the secret at offsets 0, 1 and 2 — whatever the
/// alignment, one of them appears verbatim in the encoding — and the hex of its first 15 bytes.
/// Patterns are compared with *normalized* text (see ``SecretScanner/normalize(_:)``), so line
/// breaks, escapes and separators between the characters do not hide a leak.
public struct SecretNeedle: Sendable, Equatable {
    /// One spelling of the secret.
    public struct Pattern: Sendable, Equatable {
        /// How the secret is spelled: `base64`, `base64url`, `hex`, `text` or `PEM marker`.
        public var encoding: String
        /// The normalized bytes searched for.
        public var bytes: [UInt8]
    }

    /// What the secret is, for the report ("KEK", "private key of CA demo-ca"); never the secret.
    public var name: String
    /// Its spellings.
    public var patterns: [Pattern]

    /// The bytes of a secret window that the base64 and hex patterns encode.
    static let windowLength = 15

    /// A needle for the raw bytes of a secret (a key's private scalar, the KEK). Secrets shorter
    /// than 17 bytes cannot be windowed and get only a hex pattern of the whole value (at least 8 bytes).
    public static func bytes(_ secret: Data, name: String) -> SecretNeedle {
        let bytes = [UInt8](secret)
        var patterns: [Pattern] = []
        if bytes.count >= windowLength + 2 {
            for offset in 0..<3 {
                let window = Data(bytes[offset..<(offset + windowLength)])
                let base64 = window.base64EncodedString()
                patterns.append(Pattern(encoding: "base64", bytes: Array(base64.utf8)))
                let url = base64.replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
                if url != base64 { patterns.append(Pattern(encoding: "base64url", bytes: Array(url.utf8))) }
            }
            let hex = Hex.encode(bytes[0..<windowLength])
            patterns.append(Pattern(encoding: "hex", bytes: Array(hex.utf8)))
            patterns.append(Pattern(encoding: "hex", bytes: Array(hex.uppercased().utf8)))
        } else if bytes.count >= 4 {
            let hex = Hex.encode(bytes)
            patterns.append(Pattern(encoding: "hex", bytes: Array(hex.utf8)))
            patterns.append(Pattern(encoding: "hex", bytes: Array(hex.uppercased().utf8)))
        }
        return SecretNeedle(name: name, patterns: patterns)
    }

    /// A needle for a textual secret (a webhook signing secret): the text itself (normalized, at
    /// least 8 characters) plus the patterns of its bytes.
    public static func text(_ secret: String, name: String) -> SecretNeedle {
        var needle = bytes(Data(secret.utf8), name: name)
        let normalized = SecretScanner.normalize(Array(secret.utf8))
        if normalized.count >= 8 { needle.patterns.append(Pattern(encoding: "text", bytes: normalized)) }
        return needle
    }

    /// A needle for a private key given as PKCS#8 DER: the patterns of its secret components only
    /// (EC scalar, Ed25519/X25519 seed, RSA d, p and q) — never of the public parts, which appear
    /// legitimately in certificates. Throws when the DER is not a PKCS#8 private key.
    public static func privateKey(pkcs8 der: Data, name: String) throws -> SecretNeedle {
        let secrets = try PrivateKeySecrets.components(pkcs8: der)
        return SecretNeedle(name: name, patterns: secrets.flatMap { bytes($0, name: name).patterns })
    }

    /// The PEM boundary of any private key (`-----BEGIN PRIVATE KEY-----`, `EC PRIVATE KEY`,
    /// `ENCRYPTED PRIVATE KEY`, `OPENSSH PRIVATE KEY` ...), whoever's key it is.
    public static let pemMarker = SecretNeedle(
        name: "a PEM private key", patterns: [Pattern(encoding: "PEM marker", bytes: SecretScanner.normalize(Array("PRIVATE KEY-----".utf8)))])
}

/// The secret components of a PKCS#8 private key, read with a minimal DER walk (no OIDs needed:
/// the shape of the inner private key tells the family).
public enum PrivateKeySecrets {
    /// A DER structure that is not what a PKCS#8 private key holds.
    public struct Malformed: Error, CustomStringConvertible {
        /// What was expected.
        public var description: String
    }

    /// EC: the private scalar. Ed25519, X25519, Ed448: the seed. RSA: d, p and q.
    public static func components(pkcs8 der: Data) throws -> [Data] {
        var top = DERReader(Array(der))
        var outer = try top.sequence()
        _ = try outer.next(tag: 0x02)  // version
        _ = try outer.next(tag: 0x30)  // algorithm
        let inner = try outer.next(tag: 0x04)
        var reader = DERReader(inner)
        if reader.peekTag == 0x04 { return [Data(try reader.next(tag: 0x04))] }
        var key = try reader.sequence()
        _ = try key.next(tag: 0x02)  // version
        if key.peekTag == 0x04 { return [Data(try key.next(tag: 0x04))] }  // ECPrivateKey
        var integers: [ArraySlice<UInt8>] = []
        while key.peekTag == 0x02, integers.count < 5 { integers.append(try key.next(tag: 0x02)) }
        guard integers.count == 5 else { throw Malformed(description: "not an EC, EdDSA or RSA private key") }
        // n, e, d, p, q: the secret ones, without a leading sign byte.
        return integers[2...].map { Data($0.drop { $0 == 0 }) }
    }

    /// Reads definite-length DER TLVs.
    struct DERReader {
        private var bytes: ArraySlice<UInt8>

        init(_ bytes: [UInt8]) { self.bytes = bytes[...] }
        init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

        var peekTag: UInt8? { bytes.first }

        /// The content of the next element, which must have `tag`.
        mutating func next(tag: UInt8) throws -> ArraySlice<UInt8> {
            guard let first = bytes.first, first == tag else {
                throw Malformed(description: "expected DER tag \(tag), found \(bytes.first.map(String.init) ?? "the end")")
            }
            var index = bytes.index(after: bytes.startIndex)
            guard index < bytes.endIndex else { throw Malformed(description: "truncated DER") }
            var length = Int(bytes[index])
            index += 1
            if length & 0x80 != 0 {
                let count = length & 0x7f
                guard count >= 1, count <= 3, index + count <= bytes.endIndex else { throw Malformed(description: "bad DER length") }
                length = bytes[index..<(index + count)].reduce(0) { $0 << 8 | Int($1) }
                index += count
            }
            guard index + length <= bytes.endIndex else { throw Malformed(description: "truncated DER") }
            let content = bytes[index..<(index + length)]
            bytes = bytes[(index + length)...]
            return content
        }

        /// A reader over the content of the next SEQUENCE.
        mutating func sequence() throws -> DERReader { DERReader(try next(tag: 0x30)) }
    }
}
