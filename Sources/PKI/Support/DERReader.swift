import Foundation

/// One DER element (tag, length, value) inside a byte buffer: offsets into that buffer.
struct DERElement: Equatable {
    /// The identifier octet (single-byte tags only: class, constructed bit and tag number < 31).
    var tag: UInt8
    /// Offset of the identifier octet.
    var start: Int
    /// Offset of the first content octet.
    var contentStart: Int
    /// Offset just past the last content octet.
    var end: Int

    /// The whole element's bytes.
    var range: Range<Int> { start..<end }
    /// The content octets.
    var content: Range<Int> { contentStart..<end }
}

/// A strict reader of DER's tag-length-value structure, for the few shapes certbus decodes
/// itself (see ``ECRequestDecoder``): definite, minimal lengths only, single-byte tags only.
/// It never interprets values; everything it cannot read with certainty is an error, and the
/// callers then leave the input to OpenSSL.
enum DERReader {
    struct Malformed: Error {}

    /// The element starting at `offset`, which must end at or before `limit`.
    static func element(_ bytes: [UInt8], at offset: Int, limit: Int) throws -> DERElement {
        guard offset + 2 <= limit, limit <= bytes.count else { throw Malformed() }
        let tag = bytes[offset]
        guard tag & 0x1f != 0x1f else { throw Malformed() }  // multi-byte tag numbers
        var cursor = offset + 1
        let first = bytes[cursor]
        cursor += 1
        var length = 0
        if first < 0x80 {
            length = Int(first)
        } else {
            let count = Int(first & 0x7f)
            guard count >= 1, count <= 4, cursor + count <= limit else { throw Malformed() }  // indefinite or huge
            guard bytes[cursor] != 0 else { throw Malformed() }  // not minimal
            for _ in 0..<count {
                length = length << 8 | Int(bytes[cursor])
                cursor += 1
            }
            guard length >= 0x80 else { throw Malformed() }  // the short form was required
        }
        guard length <= limit - cursor else { throw Malformed() }
        return DERElement(tag: tag, start: offset, contentStart: cursor, end: cursor + length)
    }

    /// The elements that exactly fill `parent`'s content (which must be constructed).
    static func children(_ bytes: [UInt8], of parent: DERElement) throws -> [DERElement] {
        guard parent.tag & 0x20 != 0 else { throw Malformed() }
        var result: [DERElement] = []
        var offset = parent.contentStart
        while offset < parent.end {
            let child = try element(bytes, at: offset, limit: parent.end)
            result.append(child)
            offset = child.end
        }
        return result
    }

    /// The single element that fills all of `bytes`.
    static func root(_ bytes: [UInt8]) throws -> DERElement {
        let element = try element(bytes, at: 0, limit: bytes.count)
        guard element.end == bytes.count else { throw Malformed() }
        return element
    }
}
