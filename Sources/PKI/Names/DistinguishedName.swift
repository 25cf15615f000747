import COpenSSL
import Foundation

/// An X.509 distinguished name as an ordered list of attributes (most significant first,
/// as encoded). Multi-valued RDNs are flattened into consecutive attributes.
public struct DistinguishedName: Sendable, Hashable, CustomStringConvertible {
    /// The type of one name attribute.
    public enum AttributeType: Sendable, Hashable, CustomStringConvertible {
        /// CN, 2.5.4.3
        case commonName
        /// O, 2.5.4.10
        case organization
        /// OU, 2.5.4.11
        case organizationalUnit
        /// C, 2.5.4.6 (two letters)
        case country
        /// ST, 2.5.4.8
        case stateOrProvince
        /// L, 2.5.4.7
        case locality
        /// serialNumber, 2.5.4.5
        case serialNumber
        /// emailAddress, 1.2.840.113549.1.9.1 (deprecated in names, still seen)
        case emailAddress
        /// DC, 0.9.2342.19200300.100.1.25
        case domainComponent
        /// Any other attribute, by dotted OID.
        case other(oid: String)

        /// The RFC 4514 short name, or the dotted OID for `.other`.
        public var description: String {
            switch self {
            case .commonName: "CN"
            case .organization: "O"
            case .organizationalUnit: "OU"
            case .country: "C"
            case .stateOrProvince: "ST"
            case .locality: "L"
            case .serialNumber: "serialNumber"
            case .emailAddress: "emailAddress"
            case .domainComponent: "DC"
            case .other(let oid): oid
            }
        }

        var nid: Int32 {
            switch self {
            case .commonName: NID_commonName
            case .organization: NID_organizationName
            case .organizationalUnit: NID_organizationalUnitName
            case .country: NID_countryName
            case .stateOrProvince: NID_stateOrProvinceName
            case .locality: NID_localityName
            case .serialNumber: NID_serialNumber
            case .emailAddress: NID_pkcs9_emailAddress
            case .domainComponent: NID_domainComponent
            case .other(let oid): OBJ_txt2nid(oid)
            }
        }

        init(nid: Int32, oid: String) {
            switch nid {
            case NID_commonName: self = .commonName
            case NID_organizationName: self = .organization
            case NID_organizationalUnitName: self = .organizationalUnit
            case NID_countryName: self = .country
            case NID_stateOrProvinceName: self = .stateOrProvince
            case NID_localityName: self = .locality
            case NID_serialNumber: self = .serialNumber
            case NID_pkcs9_emailAddress: self = .emailAddress
            case NID_domainComponent: self = .domainComponent
            default: self = .other(oid: oid)
            }
        }
    }

    /// One attribute of a name.
    public struct Attribute: Sendable, Hashable {
        /// The attribute type.
        public let type: AttributeType
        /// The value as text.
        public let value: String

        /// Creates an attribute.
        public init(_ type: AttributeType, _ value: String) {
            self.type = type
            self.value = value
        }
    }

    /// The attributes in encoding order.
    public var attributes: [Attribute]

    /// A name from attributes in encoding order (most significant, e.g. C, first).
    public init(_ attributes: [Attribute]) {
        self.attributes = attributes
    }

    /// A name from the common fields, encoded in the order C, ST, L, O, OU, CN; nil fields are left out.
    public init(
        commonName: String? = nil, organization: String? = nil, organizationalUnit: String? = nil,
        country: String? = nil, stateOrProvince: String? = nil, locality: String? = nil
    ) {
        let fields: [(AttributeType, String?)] = [
            (.country, country), (.stateOrProvince, stateOrProvince), (.locality, locality),
            (.organization, organization), (.organizationalUnit, organizationalUnit), (.commonName, commonName),
        ]
        attributes = fields.compactMap { type, value in value.map { Attribute(type, $0) } }
    }

    /// The last (most specific) common name, if any.
    public var commonName: String? {
        attributes.last { $0.type == .commonName }?.value
    }

    /// Whether the name has no attributes.
    public var isEmpty: Bool { attributes.isEmpty }

    /// The values of every attribute of `type`, in order.
    public func values(of type: AttributeType) -> [String] {
        attributes.filter { $0.type == type }.map(\.value)
    }

    /// RFC 4514 form, most specific first: "CN=example.com,O=Example,C=DE".
    public var description: String {
        attributes.reversed().map { "\($0.type)=\(Self.escape($0.value))" }.joined(separator: ",")
    }

    private static func escape(_ value: String) -> String {
        var out = ""
        for (index, character) in value.enumerated() {
            if ",+\"\\<>;=".contains(character)
                || (index == 0 && (character == " " || character == "#"))
                || (index == value.count - 1 && character == " ") {
                out.append("\\")
            }
            out.append(character)
        }
        return out
    }

    /// Reads an OpenSSL X509_NAME.
    init(reading name: OpaquePointer?) {
        var attributes: [Attribute] = []
        if let name {
            let count = X509_NAME_entry_count(name)
            for index in 0..<max(count, 0) {
                guard let entry = X509_NAME_get_entry(name, index) else { continue }
                let object = X509_NAME_ENTRY_get_object(entry)
                let nid = OBJ_obj2nid(object)
                let value = ASN1.text(X509_NAME_ENTRY_get_data(entry)) ?? Hex.encode(ASN1.bytes(X509_NAME_ENTRY_get_data(entry)))
                attributes.append(Attribute(AttributeType(nid: nid, oid: ASN1.oid(object)), value))
            }
        }
        self.attributes = attributes
    }

    /// A new OpenSSL X509_NAME with these attributes (UTF8String, or PrintableString where
    /// X.520 requires it, as OpenSSL's string table decides). The caller frees it.
    func makeX509Name(_ operation: String) throws -> OpaquePointer {
        guard let name = X509_NAME_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        for attribute in attributes {
            let bytes = Array(attribute.value.utf8)
            guard !bytes.isEmpty else {
                X509_NAME_free(name)
                throw PKIError(.invalidArgument, operation: operation, message: "the \(attribute.type) attribute is empty")
            }
            if case .country = attribute.type,
               !(bytes.count == 2 && bytes.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") })) {
                X509_NAME_free(name)
                throw PKIError(.invalidArgument, operation: operation,
                               message: "country must be a two-letter upper-case ISO 3166 code, not \"\(attribute.value)\"")
            }
            let ok: Int32
            if case .other(let oid) = attribute.type {
                guard let object = OBJ_txt2obj(oid, 1) else {
                    X509_NAME_free(name)
                    throw PKIError.openSSL(.invalidArgument, operation, "\"\(oid)\" is not a dotted OID")
                }
                defer { ASN1_OBJECT_free(object) }
                ok = X509_NAME_add_entry_by_OBJ(name, object, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0)
            } else {
                ok = X509_NAME_add_entry_by_NID(name, attribute.type.nid, MBSTRING_UTF8, bytes, Int32(bytes.count), -1, 0)
            }
            guard ok == 1 else {
                X509_NAME_free(name)
                throw PKIError.openSSL(.invalidArgument, operation, "the \(attribute.type) value cannot be encoded")
            }
        }
        return name
    }
}
