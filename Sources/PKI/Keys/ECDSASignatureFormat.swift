import COpenSSL
import Foundation

/// Conversions between the two encodings of an ECDSA signature: DER `SEQUENCE { r, s }`
/// (X.509, OpenSSL) and fixed-width raw `r || s` (JOSE, RFC 7518 §3.4).
public enum ECDSASignatureFormat {
    /// The raw `r || s` form of a DER signature, each half left-padded to `curve`'s coordinate size.
    public static func raw(fromDER der: Data, curve: EllipticCurve) throws -> Data {
        let operation = "convert ECDSA signature to raw"
        let signature = try decodeDER(der, operation, what: "ECDSA signature", free: ECDSA_SIG_free) { cursor, length in
            d2i_ECDSA_SIG(nil, cursor, length)
        }
        defer { ECDSA_SIG_free(signature) }
        let width = curve.coordinateByteCount
        var r: OpaquePointer?
        var s: OpaquePointer?
        ECDSA_SIG_get0(signature, &r, &s)
        var out = Data(count: 2 * width)
        let ok = out.withUnsafeMutableBytes { raw -> Bool in
            let base = raw.bindMemory(to: UInt8.self).baseAddress!
            return BN_bn2binpad(r, base, Int32(width)) == width && BN_bn2binpad(s, base + width, Int32(width)) == width
        }
        guard ok else {
            throw PKIError.openSSL(.malformedInput, operation, "signature values are too large for \(curve.rawValue)")
        }
        return out
    }

    /// The DER form of a raw `r || s` signature for `curve`.
    public static func der(fromRaw raw: Data, curve: EllipticCurve) throws -> Data {
        let operation = "convert raw ECDSA signature to DER"
        let width = curve.coordinateByteCount
        guard raw.count == 2 * width else {
            throw PKIError(.malformedInput, operation: operation,
                           message: "a raw \(curve.rawValue) signature is \(2 * width) bytes, not \(raw.count)")
        }
        guard let signature = ECDSA_SIG_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { ECDSA_SIG_free(signature) }
        let bytes = [UInt8](raw)
        let r = BN_bin2bn(bytes, Int32(width), nil)
        let s = bytes.withUnsafeBufferPointer { BN_bin2bn($0.baseAddress! + width, Int32(width), nil) }
        guard let r, let s, ECDSA_SIG_set0(signature, r, s) == 1 else {
            BN_free(r)
            BN_free(s)
            throw PKIError.openSSL(.internalFailure, operation, "cannot build the signature")
        }
        return try encodeDER(operation) { i2d_ECDSA_SIG(signature, $0) }
    }
}
