import COpenSSL
import Foundation

/// A certificate serial number: a positive integer of at most 20 octets (RFC 5280 §4.1.2.2).
public struct SerialNumber: Sendable, Hashable, CustomStringConvertible {
    /// The magnitude, big-endian, without leading zero bytes (at least one byte).
    public let bytes: [UInt8]

    /// A serial from big-endian bytes; leading zeros are dropped. Nil if it is zero or longer than 20 octets.
    public init?(bytes: [UInt8]) {
        let trimmed = Array(bytes.drop { $0 == 0 })
        guard !trimmed.isEmpty, trimmed.count <= 20 else { return nil }
        self.bytes = trimmed
    }

    /// A serial from hex (either case, optional ":" separators); nil if not hex, zero or too long.
    public init?(hex: String) {
        guard let data = Hex.decode(hex.count % 2 == 1 && !hex.contains(":") ? "0" + hex : hex) else { return nil }
        self.init(bytes: [UInt8](data))
    }

    /// A fresh serial with 128 bits from the CSPRNG (CA/B Forum BR 7.1: at least 64 bits of
    /// output from a CSPRNG, greater than zero). Encodes in at most 17 octets.
    public static func random() throws -> SerialNumber {
        while true {
            let random = try SecureRandom.bytes(16)
            if let serial = SerialNumber(bytes: [UInt8](random)) { return serial }
        }
    }

    /// Lowercase hex of the magnitude, two digits per byte ("0a1b..."), as certbus stores serials.
    public var hex: String { Hex.encode(bytes) }

    /// Same as ``hex``.
    public var description: String { hex }

    /// Reads an ASN1_INTEGER (the sign of a non-conforming negative serial is dropped).
    init?(reading integer: UnsafePointer<ASN1_INTEGER>?) {
        self.init(bytes: [UInt8](ASN1.bytes(integer)))
    }

    /// A new ASN1_INTEGER; the caller frees it.
    func makeInteger(_ operation: String) throws -> UnsafeMutablePointer<ASN1_INTEGER> {
        try ASN1.makeInteger(magnitude: bytes, operation)
    }
}
