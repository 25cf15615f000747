import Foundation

/// A small, stable, non-cryptographic hash (64-bit FNV-1a) for deriving deterministic values
/// (such as renewal jitter) from identifiers. Its output never changes between runs, processes
/// or platforms, unlike Swift's `Hasher`, which is seeded per process.
public enum StableHash {
    /// The FNV-1a 64-bit hash of `bytes`.
    public static func fnv1a64<Bytes: Sequence>(_ bytes: Bytes) -> UInt64 where Bytes.Element == UInt8 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// A value in `0..<1` derived only from `id`'s 16 bytes: the same id always gives the same
    /// fraction, and different ids spread evenly over the interval.
    public static func unitFraction(of id: UUID) -> Double {
        let u = id.uuid
        let bytes = [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
        // Mix once more so that ids differing only in their last byte still spread widely.
        var hash = fnv1a64(bytes)
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return Double(hash >> 11) / Double(UInt64(1) << 53)
    }
}
