import COpenSSL
import Foundation

/// Conversions between OpenSSL's ASN.1 values and Swift values.
enum ASN1 {
    /// The content bytes of an ASN1_STRING (also ASN1_INTEGER, ASN1_OCTET_STRING, ...).
    static func bytes(_ string: UnsafePointer<ASN1_STRING>?) -> Data {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return Data() }
        return Data(bytes: data, count: Int(ASN1_STRING_length(string)))
    }

    /// An ASN1_STRING of any string type as UTF-8 text (nil if it cannot be converted).
    static func text(_ string: UnsafePointer<ASN1_STRING>?) -> String? {
        guard let string else { return nil }
        var out: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&out, string)
        guard length >= 0, let out else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        defer { certbus_OPENSSL_free(out) }
        return String(decoding: UnsafeBufferPointer(start: out, count: Int(length)), as: UTF8.self)
    }

    /// A new ASN1_TIME for `date`, whole seconds (UTCTime before 2050, GeneralizedTime after, per RFC 5280).
    /// The caller frees it with ASN1_TIME_free.
    static func makeTime(_ date: Date, _ operation: String) throws -> UnsafeMutablePointer<ASN1_TIME> {
        let seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        guard let time = ASN1_TIME_set(nil, seconds) else {
            throw PKIError.openSSL(.invalidArgument, operation, "date \(date) cannot be encoded as an X.509 time")
        }
        return time
    }

    /// The instant an ASN1_TIME denotes.
    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date? {
        guard let time else { return nil }
        var parts = tm()
        guard ASN1_TIME_to_tm(time, &parts) == 1 else {
            OpenSSLErrorQueue.clear()
            return nil
        }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    /// A new ASN1_INTEGER holding the unsigned big-endian `magnitude`. The caller frees it.
    static func makeInteger(magnitude: [UInt8], _ operation: String) throws -> UnsafeMutablePointer<ASN1_INTEGER> {
        guard let bn = BN_bin2bn(magnitude, Int32(magnitude.count), nil) else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot create a big number")
        }
        defer { BN_free(bn) }
        guard let integer = BN_to_ASN1_INTEGER(bn, nil) else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot create an ASN.1 integer")
        }
        return integer
    }

    /// A new ASN1_OCTET_STRING with `bytes`. The caller frees it.
    static func makeOctetString(_ bytes: Data, _ operation: String) throws -> UnsafeMutablePointer<ASN1_OCTET_STRING> {
        guard let string = ASN1_OCTET_STRING_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        let ok = withBytes(bytes) { pointer, count in ASN1_OCTET_STRING_set(string, pointer, Int32(count)) }
        guard ok == 1 else {
            ASN1_OCTET_STRING_free(string)
            throw PKIError.openSSL(.internalFailure, operation, "cannot create an octet string")
        }
        return string
    }

    /// A new IA5String with `text`. The caller frees it.
    static func makeIA5String(_ text: String, _ operation: String) throws -> UnsafeMutablePointer<ASN1_IA5STRING> {
        guard let string = ASN1_IA5STRING_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        let utf8 = Array(text.utf8)
        guard ASN1_STRING_set(string, utf8, Int32(utf8.count)) == 1 else {
            ASN1_IA5STRING_free(string)
            throw PKIError.openSSL(.internalFailure, operation, "cannot create an IA5 string")
        }
        return string
    }

    /// The dotted-decimal OID of an ASN1_OBJECT.
    static func oid(_ object: OpaquePointer?) -> String {
        guard let object else { return "" }
        var buffer = [CChar](repeating: 0, count: 128)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 1)
        guard length > 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
