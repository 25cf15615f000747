import COpenSSL
import Foundation

/// One entry of a subjectAltName extension (RFC 5280 §4.2.1.6).
public enum SubjectAlternativeName: Sendable, Hashable, CustomStringConvertible {
    /// dNSName, e.g. "www.example.com" or "*.example.com".
    case dnsName(String)
    /// iPAddress.
    case ipAddress(IPAddress)
    /// rfc822Name (email address).
    case email(String)
    /// uniformResourceIdentifier.
    case uri(String)
    /// A form certbus reads but never issues (otherName, directoryName, ...), by kind.
    case other(kind: String)

    /// "DNS:www.example.com", "IP:192.0.2.1", "email:a@example.com", "URI:https://...", "othername".
    public var description: String {
        switch self {
        case .dnsName(let name): "DNS:\(name)"
        case .ipAddress(let address): "IP:\(address)"
        case .email(let address): "email:\(address)"
        case .uri(let uri): "URI:\(uri)"
        case .other(let kind): kind
        }
    }

    /// A DNS name SAN for `text` or an IP SAN when `text` is an IP address literal.
    public static func dnsNameOrIPAddress(_ text: String) -> SubjectAlternativeName {
        if let address = IPAddress(text) { return .ipAddress(address) }
        return .dnsName(text)
    }

    /// Checks that this entry can go into a certificate certbus issues: DNS names must be
    /// lower-case preferred-syntax host names (letters, digits, hyphens; A-labels for IDNs;
    /// a wildcard only as the whole left-most label; at most 253 characters, labels at most 63);
    /// email and URI values must be non-empty printable ASCII without spaces.
    public func validateForIssuance(operation: String = "validate subject alternative name") throws {
        switch self {
        case .dnsName(let name):
            if let problem = DNSNameRules.problem(with: name) {
                throw PKIError(.policyViolation, operation: operation, message: "DNS name \(DNSNameRules.quoted(name)) \(problem)")
            }
        case .ipAddress:
            return
        case .email(let value), .uri(let value):
            guard !value.isEmpty, value.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7f }) else {
                throw PKIError(.policyViolation, operation: operation,
                               message: "\(self) must be non-empty printable ASCII without spaces")
            }
        case .other(let kind):
            throw PKIError(.unsupported, operation: operation, message: "certbus does not issue \(kind) names")
        }
    }

    /// Reads one OpenSSL GENERAL_NAME.
    init(reading name: UnsafeMutablePointer<GENERAL_NAME>) {
        var type: Int32 = 0
        let value = GENERAL_NAME_get0_value(name, &type)
        let string = value?.assumingMemoryBound(to: ASN1_STRING.self)
        switch type {
        case GEN_DNS:
            self = .dnsName(ASN1.text(string) ?? "")
        case GEN_IPADD:
            let bytes = [UInt8](ASN1.bytes(string))
            self = IPAddress(bytes: bytes).map { .ipAddress($0) } ?? .other(kind: "IP:" + Hex.encode(bytes))
        case GEN_EMAIL:
            self = .email(ASN1.text(string) ?? "")
        case GEN_URI:
            self = .uri(ASN1.text(string) ?? "")
        case GEN_OTHERNAME: self = .other(kind: "othername")
        case GEN_X400: self = .other(kind: "x400Address")
        case GEN_DIRNAME: self = .other(kind: "DirName")
        case GEN_EDIPARTY: self = .other(kind: "EdiPartyName")
        case GEN_RID: self = .other(kind: "RegisteredID")
        default: self = .other(kind: "unknown")
        }
    }

    /// Reads a GENERAL_NAMES stack.
    static func list(reading names: OpaquePointer?) -> [SubjectAlternativeName] {
        guard let names else { return [] }
        let count = certbus_sk_GENERAL_NAME_num(names)
        return (0..<max(count, 0)).compactMap { index in
            certbus_sk_GENERAL_NAME_value(names, index).map { SubjectAlternativeName(reading: $0) }
        }
    }

    /// A new GENERAL_NAME for this entry. The caller frees it (or hands it to a stack).
    func makeGeneralName(_ operation: String) throws -> UnsafeMutablePointer<GENERAL_NAME> {
        let type: Int32
        let value: UnsafeMutableRawPointer
        switch self {
        case .dnsName(let text):
            type = GEN_DNS
            value = UnsafeMutableRawPointer(try ASN1.makeIA5String(text, operation))
        case .email(let text):
            type = GEN_EMAIL
            value = UnsafeMutableRawPointer(try ASN1.makeIA5String(text, operation))
        case .uri(let text):
            type = GEN_URI
            value = UnsafeMutableRawPointer(try ASN1.makeIA5String(text, operation))
        case .ipAddress(let address):
            type = GEN_IPADD
            value = UnsafeMutableRawPointer(try ASN1.makeOctetString(Data(address.bytes), operation))
        case .other(let kind):
            throw PKIError(.unsupported, operation: operation, message: "certbus does not encode \(kind) names")
        }
        guard let name = GENERAL_NAME_new() else {
            ASN1_STRING_free(value.assumingMemoryBound(to: ASN1_STRING.self))
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        GENERAL_NAME_set0_value(name, type, value)
        return name
    }

    /// A new GENERAL_NAMES stack holding `names`. The caller frees it with GENERAL_NAMES_free.
    static func makeGeneralNames(_ names: [SubjectAlternativeName], _ operation: String) throws -> OpaquePointer {
        guard let stack = certbus_sk_GENERAL_NAME_new_null() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        do {
            for name in names {
                let general = try name.makeGeneralName(operation)
                guard certbus_sk_GENERAL_NAME_push(stack, general) > 0 else {
                    GENERAL_NAME_free(general)
                    throw PKIError.openSSL(.internalFailure, operation, "out of memory")
                }
            }
        } catch {
            GENERAL_NAMES_free(stack)
            throw error
        }
        return stack
    }
}

/// Syntax rules for DNS names in certificates (RFC 1034 preferred syntax, RFC 5280, CA/B Forum BR).
enum DNSNameRules {
    /// `text` in double quotes, each control character shown as a `\u{1B}`-style escape, so that a
    /// message quoting a bad name names a NUL or an escape character instead of carrying it.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            if scalar.properties.generalCategory == .control {
                out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Why `name` is not acceptable, or nil if it is.
    static func problem(with name: String) -> String? {
        if name.isEmpty { return "is empty" }
        if name.utf8.count > 253 { return "is longer than 253 characters" }
        if IPAddress(name) != nil { return "is an IP address; use an IP address SAN" }
        let labels = name.split(separator: ".", omittingEmptySubsequences: false)
        if labels.count < 2 && name != "localhost" { return "is not a fully qualified domain name" }
        for (index, label) in labels.enumerated() {
            if label.isEmpty { return "has an empty label" }
            if label == "*" {
                if index != 0 { return "has a wildcard that is not the whole left-most label" }
                if labels.count < 3 { return "has a wildcard directly under a top-level domain" }
                continue
            }
            if label.utf8.count > 63 { return "has a label longer than 63 characters" }
            for byte in label.utf8 {
                let ok = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                    || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                if !ok {
                    if byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") { return "must be lower case" }
                    if byte >= 0x80 { return "must use A-labels (xn--) for internationalized names" }
                    return "contains \(quoted(String(Character(Unicode.Scalar(byte))))), which is not allowed in a host name"
                }
            }
            if label.hasPrefix("-") || label.hasSuffix("-") { return "has a label starting or ending with a hyphen" }
        }
        if let last = labels.last, last.allSatisfy({ $0.isNumber }) { return "has an all-numeric top-level label" }
        return nil
    }
}
