import COpenSSL
import Foundation

/// Bytes from OpenSSL's CSPRNG.
public enum SecureRandom {
    /// `count` cryptographically secure random bytes. Throws only if the CSPRNG cannot be seeded.
    public static func bytes(_ count: Int) throws -> Data {
        guard count >= 0 else {
            throw PKIError(.invalidArgument, operation: "generate random bytes", message: "negative count \(count)")
        }
        var out = Data(count: count)
        if count == 0 { return out }
        let ok = out.withUnsafeMutableBytes { raw in
            RAND_bytes(raw.bindMemory(to: UInt8.self).baseAddress, Int32(count))
        }
        guard ok == 1 else {
            throw PKIError.openSSL(.internalFailure, "generate random bytes", "the CSPRNG failed")
        }
        return out
    }
}
