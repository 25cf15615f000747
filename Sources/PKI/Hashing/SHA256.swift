import COpenSSL
import Foundation

/// SHA-256 (FIPS 180-4).
public enum SHA256 {
    /// The digest length in bytes.
    public static let byteCount = 32

    /// The 32-byte SHA-256 digest of `data`.
    public static func hash(_ data: Data) -> Data {
        var digest = Data(count: byteCount)
        withBytes(data) { pointer, count in
            digest.withUnsafeMutableBytes { out in
                _ = COpenSSL.SHA256(pointer, count, out.bindMemory(to: UInt8.self).baseAddress)
            }
        }
        return digest
    }

    /// The SHA-256 digest of the UTF-8 bytes of `text`.
    public static func hash(_ text: String) -> Data {
        hash(Data(text.utf8))
    }

    /// The SHA-256 digest of `data` as 64 lowercase hex digits.
    public static func hexDigest(_ data: Data) -> String {
        Hex.encode(hash(data))
    }
}

/// SHA-384 (FIPS 180-4).
public enum SHA384 {
    /// The 48-byte SHA-384 digest of `data`.
    public static func hash(_ data: Data) -> Data {
        var digest = Data(count: 48)
        withBytes(data) { pointer, count in
            digest.withUnsafeMutableBytes { out in
                _ = COpenSSL.SHA384(pointer, count, out.bindMemory(to: UInt8.self).baseAddress)
            }
        }
        return digest
    }
}
