import COpenSSL
import Foundation

/// Runs an OpenSSL `i2d_*` function twice (length, then bytes) and returns the DER.
func encodeDER(
    _ operation: String,
    _ i2d: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>?) -> Int32
) throws -> Data {
    let length = i2d(nil)
    guard length > 0 else {
        throw PKIError.openSSL(.internalFailure, operation, "DER encoding failed")
    }
    var out = Data(count: Int(length))
    let written = out.withUnsafeMutableBytes { raw -> Int32 in
        var cursor: UnsafeMutablePointer<UInt8>? = raw.bindMemory(to: UInt8.self).baseAddress
        return i2d(&cursor)
    }
    guard written == length else {
        throw PKIError.openSSL(.internalFailure, operation, "DER encoding changed length")
    }
    return out
}

/// Runs an OpenSSL `d2i_*` function over all of `der`; trailing bytes are an error (the
/// decoded object is then released with `free`).
func decodeDER<T>(
    _ der: Data, _ operation: String, what: String, free: (T) -> Void,
    _ d2i: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> T?
) throws -> T {
    guard !der.isEmpty else {
        throw PKIError(.malformedInput, operation: operation, message: "empty input is not a DER \(what)")
    }
    OpenSSLErrorQueue.clear()
    return try der.withUnsafeBytes { raw in
        let start = raw.bindMemory(to: UInt8.self).baseAddress!
        var cursor: UnsafePointer<UInt8>? = start
        guard let value = d2i(&cursor, raw.count) else {
            throw PKIError.openSSL(.malformedInput, operation, "input is not a DER \(what)")
        }
        if let cursor, cursor - start != raw.count {
            free(value)
            throw PKIError(.malformedInput, operation: operation,
                           message: "\(raw.count - (cursor - start)) bytes of trailing data after the DER \(what)")
        }
        return value
    }
}

/// Calls `body` with a pointer to the bytes of `data` (never nil, even when empty) and the count.
func withBytes<R>(_ data: Data, _ body: (UnsafePointer<UInt8>, Int) throws -> R) rethrows -> R {
    if data.isEmpty {
        var zero: UInt8 = 0
        return try body(&zero, 0)
    }
    return try data.withUnsafeBytes { raw in
        try body(raw.bindMemory(to: UInt8.self).baseAddress!, raw.count)
    }
}
