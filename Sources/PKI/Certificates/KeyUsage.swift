import COpenSSL
import Foundation

/// The keyUsage extension bits (RFC 5280 §4.2.1.3). Raw value bit n is BIT STRING bit n.
public struct KeyUsage: OptionSet, Sendable, Hashable, CustomStringConvertible {
    /// The bits.
    public let rawValue: UInt16
    /// Creates a set from raw bits.
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// digitalSignature (0)
    public static let digitalSignature = KeyUsage(rawValue: 1 << 0)
    /// nonRepudiation / contentCommitment (1)
    public static let nonRepudiation = KeyUsage(rawValue: 1 << 1)
    /// keyEncipherment (2)
    public static let keyEncipherment = KeyUsage(rawValue: 1 << 2)
    /// dataEncipherment (3)
    public static let dataEncipherment = KeyUsage(rawValue: 1 << 3)
    /// keyAgreement (4)
    public static let keyAgreement = KeyUsage(rawValue: 1 << 4)
    /// keyCertSign (5)
    public static let keyCertSign = KeyUsage(rawValue: 1 << 5)
    /// cRLSign (6)
    public static let cRLSign = KeyUsage(rawValue: 1 << 6)
    /// encipherOnly (7)
    public static let encipherOnly = KeyUsage(rawValue: 1 << 7)
    /// decipherOnly (8)
    public static let decipherOnly = KeyUsage(rawValue: 1 << 8)

    static let names = [
        "digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement",
        "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly",
    ]

    /// The set bit names in bit order, e.g. "digitalSignature, keyEncipherment".
    public var description: String {
        Self.names.enumerated().filter { rawValue & (1 << $0.offset) != 0 }.map(\.element).joined(separator: ", ")
    }

    init(reading bits: UnsafePointer<ASN1_BIT_STRING>) {
        var raw: UInt16 = 0
        for bit in 0..<9 where ASN1_BIT_STRING_get_bit(bits, Int32(bit)) == 1 {
            raw |= 1 << bit
        }
        rawValue = raw
    }

    /// A new ASN1_BIT_STRING; the caller frees it.
    func makeBitString(_ operation: String) throws -> UnsafeMutablePointer<ASN1_BIT_STRING> {
        guard let bits = ASN1_BIT_STRING_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        for bit in 0..<9 where rawValue & (1 << bit) != 0 {
            guard ASN1_BIT_STRING_set_bit(bits, Int32(bit), 1) == 1 else {
                ASN1_BIT_STRING_free(bits)
                throw PKIError.openSSL(.internalFailure, operation, "cannot set key usage bit")
            }
        }
        return bits
    }
}

/// An extendedKeyUsage purpose (RFC 5280 §4.2.1.12).
public enum ExtendedKeyUsage: Sendable, Hashable, CustomStringConvertible {
    /// TLS server authentication, 1.3.6.1.5.5.7.3.1
    case serverAuth
    /// TLS client authentication, 1.3.6.1.5.5.7.3.2
    case clientAuth
    /// Code signing, 1.3.6.1.5.5.7.3.3
    case codeSigning
    /// Email protection, 1.3.6.1.5.5.7.3.4
    case emailProtection
    /// Time stamping, 1.3.6.1.5.5.7.3.8
    case timeStamping
    /// OCSP signing, 1.3.6.1.5.5.7.3.9
    case ocspSigning
    /// anyExtendedKeyUsage, 2.5.29.37.0
    case any
    /// Any other purpose, by dotted OID.
    case other(oid: String)

    /// The purpose's short name ("serverAuth") or dotted OID.
    public var description: String {
        switch self {
        case .serverAuth: "serverAuth"
        case .clientAuth: "clientAuth"
        case .codeSigning: "codeSigning"
        case .emailProtection: "emailProtection"
        case .timeStamping: "timeStamping"
        case .ocspSigning: "OCSPSigning"
        case .any: "anyExtendedKeyUsage"
        case .other(let oid): oid
        }
    }

    var nid: Int32 {
        switch self {
        case .serverAuth: NID_server_auth
        case .clientAuth: NID_client_auth
        case .codeSigning: NID_code_sign
        case .emailProtection: NID_email_protect
        case .timeStamping: NID_time_stamp
        case .ocspSigning: NID_OCSP_sign
        case .any: NID_anyExtendedKeyUsage
        case .other(let oid): OBJ_txt2nid(oid)
        }
    }

    init(reading object: OpaquePointer?) {
        switch OBJ_obj2nid(object) {
        case NID_server_auth: self = .serverAuth
        case NID_client_auth: self = .clientAuth
        case NID_code_sign: self = .codeSigning
        case NID_email_protect: self = .emailProtection
        case NID_time_stamp: self = .timeStamping
        case NID_OCSP_sign: self = .ocspSigning
        case NID_anyExtendedKeyUsage: self = .any
        default: self = .other(oid: ASN1.oid(object))
        }
    }

    /// A new ASN1_OBJECT; the caller frees it.
    func makeObject(_ operation: String) throws -> OpaquePointer {
        let object: OpaquePointer?
        if case .other(let oid) = self {
            object = OBJ_txt2obj(oid, 1)
        } else {
            object = OBJ_nid2obj(nid).flatMap { OBJ_dup($0) }
        }
        guard let object else {
            throw PKIError.openSSL(.invalidArgument, operation, "\"\(self)\" is not a valid extended key usage OID")
        }
        return object
    }
}
