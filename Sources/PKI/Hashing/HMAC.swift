import COpenSSL
import Foundation

/// HMAC (RFC 2104).
public enum HMAC {
    /// HMAC-SHA-256 of `data` under `key`: 32 bytes.
    public static func sha256(key: Data, data: Data) -> Data {
        var mac = Data(count: 32)
        var length: UInt32 = 32
        withBytes(key) { keyPointer, keyCount in
            withBytes(data) { dataPointer, dataCount in
                mac.withUnsafeMutableBytes { out in
                    _ = COpenSSL.HMAC(EVP_sha256(), keyPointer, Int32(keyCount), dataPointer, dataCount,
                                      out.bindMemory(to: UInt8.self).baseAddress, &length)
                }
            }
        }
        return mac
    }

    /// Whether `mac` equals HMAC-SHA-256 of `data` under `key`, compared in constant time.
    public static func isValidSHA256(_ mac: Data, key: Data, data: Data) -> Bool {
        ConstantTime.equals(mac, sha256(key: key, data: data))
    }
}

/// Comparisons whose running time does not depend on where the inputs differ.
public enum ConstantTime {
    /// Whether `a` and `b` are equal; time depends only on their lengths.
    public static func equals(_ a: Data, _ b: Data) -> Bool {
        guard a.count == b.count else { return false }
        if a.isEmpty { return true }
        return withBytes(a) { pa, count in
            withBytes(b) { pb, _ in CRYPTO_memcmp(pa, pb, count) == 0 }
        }
    }
}
