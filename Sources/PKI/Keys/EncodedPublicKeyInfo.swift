import COpenSSL
import Foundation

/// An X509_PUBKEY (algorithm + key bits, as encoded) that lives inside another OpenSSL object,
/// kept alive by `owner`.
///
/// OpenSSL 3.0's `X509_set_pubkey` encodes the key through the provider encoders and decodes
/// it again, which costs more than signing the certificate. When the key came from a CSR its
/// encoded form is already at hand, so issuance copies algorithm and bits from here instead.
final class EncodedPublicKeyInfo: @unchecked Sendable {
    private let owner: AnyObject
    let pointer: OpaquePointer

    init(owner: AnyObject, pointer: OpaquePointer) {
        self.owner = owner
        self.pointer = pointer
    }

    /// Copies algorithm, parameters and key bits into `target` (the X509_PUBKEY of a certificate
    /// being built). The target's cached EVP_PKEY stays empty.
    func copy(into target: OpaquePointer, _ operation: String) throws {
        var algorithmObject: OpaquePointer?
        var bits: UnsafePointer<UInt8>?
        var bitsLength: Int32 = 0
        var algorithm: UnsafeMutablePointer<X509_ALGOR>?
        guard X509_PUBKEY_get0_param(&algorithmObject, &bits, &bitsLength, &algorithm, pointer) == 1,
              let algorithmObject, let bits, bitsLength > 0, let algorithm
        else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot read the subject public key")
        }
        var parameterType: Int32 = 0
        var parameter: UnsafeRawPointer?
        var unused: OpaquePointer?
        X509_ALGOR_get0(&unused, &parameterType, &parameter, algorithm)
        var parameterCopy: UnsafeMutableRawPointer?
        switch parameterType {
        case V_ASN1_UNDEF, V_ASN1_NULL:
            parameterCopy = nil
        case V_ASN1_OBJECT:
            parameterCopy = UnsafeMutableRawPointer(OBJ_dup(OpaquePointer(parameter)))
        default:
            parameterCopy = UnsafeMutableRawPointer(ASN1_STRING_dup(parameter?.assumingMemoryBound(to: ASN1_STRING.self)))
        }
        guard let buffer = certbus_OPENSSL_malloc(Int(bitsLength)) else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        buffer.copyMemory(from: bits, byteCount: Int(bitsLength))
        let bytes = buffer.assumingMemoryBound(to: UInt8.self)
        guard X509_PUBKEY_set0_param(target, OBJ_dup(algorithmObject), parameterType, parameterCopy, bytes, bitsLength) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot set the subject public key")
        }
    }
}
