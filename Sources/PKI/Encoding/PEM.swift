import Foundation

/// One `-----BEGIN label----- ... -----END label-----` block of a PEM text, decoded.
public struct PEMBlock: Sendable, Equatable {
    /// The label between BEGIN and the dashes, e.g. "CERTIFICATE".
    public let label: String
    /// The base64-decoded body.
    public let der: Data

    /// Creates a block from a label and its DER body.
    public init(label: String, der: Data) {
        self.label = label
        self.der = der
    }

    /// The block as PEM text: base64 in 64-character lines, ending with a newline.
    public var pem: String { PEM.encode(der, label: label) }
}

/// PEM (RFC 7468) text encoding and decoding.
public enum PEM {
    /// Encodes `der` as one PEM block with `label`, 64 base64 characters per line, "\n" line ends.
    public static func encode(_ der: Data, label: String) -> String {
        let base64 = Array(der.base64EncodedString().utf8)
        var text = "-----BEGIN \(label)-----\n"
        text.reserveCapacity(base64.count + base64.count / 64 + 2 * label.count + 40)
        var index = 0
        while index < base64.count {
            let end = min(index + 64, base64.count)
            text += String(decoding: base64[index..<end], as: UTF8.self)
            text += "\n"
            index = end
        }
        text += "-----END \(label)-----\n"
        return text
    }

    /// Decodes every PEM block in `text`, in order. Text outside blocks (comments, `openssl`
    /// "Bag Attributes" lines) is ignored. A block without its END line, an END line with a
    /// different label, legacy encryption headers or invalid base64 are errors.
    /// Returns an empty array when there is no BEGIN line at all.
    public static func blocks(in text: String) throws -> [PEMBlock] {
        var text = text
        return try text.withUTF8 { try blocks(in: $0) }
    }

    private static let beginPrefix = Array("-----BEGIN ".utf8)
    private static let endPrefix = Array("-----END ".utf8)
    private static let dashes = Array("-----".utf8)

    /// The byte-level scanner behind ``blocks(in:)`` (string-level trimming is far slower).
    private static func blocks(in bytes: UnsafeBufferPointer<UInt8>) throws -> [PEMBlock] {
        let operation = "decode PEM"
        var blocks: [PEMBlock] = []
        var currentLabel: String?
        var body: [UInt8] = []
        var lineNumber = 0
        var lineStart = 0
        while lineStart <= bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            lineNumber += 1
            var first = lineStart
            var last = lineEnd
            while first < last && isBlank(bytes[first]) { first += 1 }
            while last > first && isBlank(bytes[last - 1]) { last -= 1 }
            let line = UnsafeBufferPointer(rebasing: bytes[first..<last])
            lineStart = lineEnd + 1

            if let label = currentLabel {
                if hasPrefix(line, endPrefix) {
                    guard let endLabel = boundaryLabel(line, prefix: endPrefix) else {
                        throw PKIError(.malformedInput, operation: operation, message: "line \(lineNumber): malformed END line")
                    }
                    guard endLabel == label else {
                        throw PKIError(.malformedInput, operation: operation,
                                       message: "line \(lineNumber): END \(endLabel) does not match BEGIN \(label)")
                    }
                    guard let der = Data(base64Encoded: Data(body)), !der.isEmpty else {
                        throw PKIError(.malformedInput, operation: operation,
                                       message: "the \(label) block ending on line \(lineNumber) is not valid base64")
                    }
                    blocks.append(PEMBlock(label: label, der: der))
                    currentLabel = nil
                    body.removeAll(keepingCapacity: true)
                } else if hasPrefix(line, beginPrefix) {
                    throw PKIError(.malformedInput, operation: operation,
                                   message: "line \(lineNumber): BEGIN inside the unterminated \(label) block")
                } else if line.contains(UInt8(ascii: ":")) {
                    throw PKIError(.unsupported, operation: operation,
                                   message: "line \(lineNumber): PEM headers (legacy encrypted PEM) are not supported")
                } else {
                    body.append(contentsOf: line)
                }
            } else if hasPrefix(line, beginPrefix) {
                guard let label = boundaryLabel(line, prefix: beginPrefix) else {
                    throw PKIError(.malformedInput, operation: operation, message: "line \(lineNumber): malformed BEGIN line")
                }
                currentLabel = label
            }
        }
        if let currentLabel {
            throw PKIError(.malformedInput, operation: operation, message: "the \(currentLabel) block has no END line")
        }
        return blocks
    }

    private static func isBlank(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    private static func hasPrefix(_ line: UnsafeBufferPointer<UInt8>, _ prefix: [UInt8]) -> Bool {
        line.count >= prefix.count && line.prefix(prefix.count).elementsEqual(prefix)
    }

    /// The single block of `text` whose label is one of `labels`, for parsers of one object.
    /// Blocks with other labels are ignored; none or several matching blocks are errors.
    static func singleBlock(in text: String, labels: [String], what: String, operation: String) throws -> PEMBlock {
        let matching: [PEMBlock]
        do {
            matching = try blocks(in: text).filter { labels.contains($0.label) }
        } catch let error as PKIError {
            throw PKIError(error.kind, operation: operation, message: error.message)
        }
        guard let first = matching.first else {
            throw PKIError(.malformedInput, operation: operation,
                           message: "no PEM \(what) found (expected a BEGIN \(labels[0]) block)")
        }
        guard matching.count == 1 else {
            throw PKIError(.invalidArgument, operation: operation,
                           message: "expected one PEM \(what), found \(matching.count)")
        }
        return first
    }

    private static func boundaryLabel(_ line: UnsafeBufferPointer<UInt8>, prefix: [UInt8]) -> String? {
        guard line.count > prefix.count + dashes.count, line.suffix(dashes.count).elementsEqual(dashes) else { return nil }
        let label = line[prefix.count..<(line.count - dashes.count)]
        guard label.first != UInt8(ascii: "-"), label.last != UInt8(ascii: "-"),
              label.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { return nil }
        return String(decoding: label, as: UTF8.self)
    }
}
