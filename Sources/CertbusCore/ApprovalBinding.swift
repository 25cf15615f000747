import Foundation

/// The exact request an approval is bound to.
///
/// An approval stores the SHA-256 of ``canonicalText``; before issuing, the handler rebuilds the
/// binding from the request it is about to send to the CA and compares the hashes. Any change —
/// another CSR, another name, another profile, CA or validity — gives another text and another
/// hash, so approving one request can never issue another.
public struct ApprovalBinding: Sendable, Equatable {
    /// The format marker at the start of the text; bump it if the fields ever change.
    public static let version = "certbus-approval-binding-v1"

    /// ISSUE or RENEW.
    public var operation: String
    /// The RA profile the request is checked against.
    public var profileId: UUID
    /// The CA that will sign.
    public var caId: UUID
    /// SHA-256 (hex) of the CSR's DER bytes; nil when certbus generates the key.
    public var csrSHA256: String?
    /// The key algorithm certbus generates (e.g. "EC-P256"); nil when a CSR is given.
    public var generatedKeyAlgorithm: String?
    /// The requested subject common name, if any.
    public var commonName: String?
    /// The requested subject alternative names, in request order.
    public var subjectAlternativeNames: [String]
    /// The requested lifetime in days.
    public var validityDays: Int
    /// The certificate being renewed, for renewals.
    public var predecessorId: UUID?

    /// Creates a binding from the request's parameters.
    public init(
        operation: String, profileId: UUID, caId: UUID, csrSHA256: String?, generatedKeyAlgorithm: String?,
        commonName: String?, subjectAlternativeNames: [String], validityDays: Int, predecessorId: UUID?
    ) {
        self.operation = operation
        self.profileId = profileId
        self.caId = caId
        self.csrSHA256 = csrSHA256
        self.generatedKeyAlgorithm = generatedKeyAlgorithm
        self.commonName = commonName
        self.subjectAlternativeNames = subjectAlternativeNames
        self.validityDays = validityDays
        self.predecessorId = predecessorId
    }

    /// The canonical text that is hashed: one `field=value` line per field in a fixed order,
    /// absent values empty, each value percent-escaped so no value can forge a line break or a
    /// field separator. UTF-8 of this text is the hash input.
    public var canonicalText: String {
        let fields: [(String, String)] = [
            ("operation", operation),
            ("profile", profileId.uuidString.lowercased()),
            ("ca", caId.uuidString.lowercased()),
            ("csr-sha256", csrSHA256?.lowercased() ?? ""),
            ("generated-key", generatedKeyAlgorithm ?? ""),
            ("common-name", commonName ?? ""),
            ("subject-alternative-names", subjectAlternativeNames.map(Self.escape).joined(separator: ",")),
            ("validity-days", String(validityDays)),
            ("predecessor", predecessorId?.uuidString.lowercased() ?? ""),
        ]
        var text = Self.version + "\n"
        for (name, value) in fields {
            // Already-escaped lists are joined by "," which escape() also escapes inside values.
            let escaped = name == "subject-alternative-names" ? value : Self.escape(value)
            text += name + "=" + escaped + "\n"
        }
        return text
    }

    /// The bytes to hash.
    public var hashInput: Data { Data(canonicalText.utf8) }

    /// Percent-escapes everything outside a conservative set of printable ASCII characters.
    static func escape(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            let scalar = Unicode.Scalar(byte)
            let plain = (byte >= 0x21 && byte <= 0x7e) && byte != UInt8(ascii: "%") && byte != UInt8(ascii: ",")
                && byte != UInt8(ascii: "=")
            if plain {
                out.unicodeScalars.append(scalar)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
