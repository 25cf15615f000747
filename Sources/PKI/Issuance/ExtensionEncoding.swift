import COpenSSL
import Foundation

/// Builders for the X.509 v3 extensions certbus writes. Each returns a new X509_EXTENSION
/// (the caller frees it) built from typed values, never from OpenSSL config strings holding
/// user input.
enum ExtensionEncoding {
    static func basicConstraints(isCA: Bool, pathLength: Int?, _ operation: String) throws -> OpaquePointer {
        guard let constraints = BASIC_CONSTRAINTS_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { BASIC_CONSTRAINTS_free(constraints) }
        constraints.pointee.ca = isCA ? 0xff : 0
        if isCA, let pathLength {
            guard let integer = ASN1_INTEGER_new() else {
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
            constraints.pointee.pathlen = integer // freed with the constraints
            guard ASN1_INTEGER_set(integer, pathLength) == 1 else {
                throw PKIError.openSSL(.internalFailure, operation, "cannot encode the path length")
            }
        }
        return try make(NID_basic_constraints, critical: true, UnsafeMutableRawPointer(constraints), operation)
    }

    static func keyUsage(_ usage: KeyUsage, _ operation: String) throws -> OpaquePointer {
        let bits = try usage.makeBitString(operation)
        defer { ASN1_BIT_STRING_free(bits) }
        return try make(NID_key_usage, critical: true, UnsafeMutableRawPointer(bits), operation)
    }

    static func extendedKeyUsage(_ purposes: [ExtendedKeyUsage], _ operation: String) throws -> OpaquePointer {
        guard let stack = certbus_sk_ASN1_OBJECT_new_null() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { EXTENDED_KEY_USAGE_free(stack) }
        for purpose in purposes {
            let object = try purpose.makeObject(operation)
            guard certbus_sk_ASN1_OBJECT_push(stack, object) > 0 else {
                ASN1_OBJECT_free(object)
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
        }
        return try make(NID_ext_key_usage, critical: false, UnsafeMutableRawPointer(stack), operation)
    }

    /// subjectAltName; critical when the subject is empty (RFC 5280 §4.2.1.6).
    static func subjectAlternativeNames(_ names: [SubjectAlternativeName], critical: Bool, _ operation: String) throws -> OpaquePointer {
        let stack = try SubjectAlternativeName.makeGeneralNames(names, operation)
        defer { GENERAL_NAMES_free(stack) }
        return try make(NID_subject_alt_name, critical: critical, UnsafeMutableRawPointer(stack), operation)
    }

    static func subjectKeyIdentifier(_ identifier: Data, _ operation: String) throws -> OpaquePointer {
        let octets = try ASN1.makeOctetString(identifier, operation)
        defer { ASN1_OCTET_STRING_free(octets) }
        return try make(NID_subject_key_identifier, critical: false, UnsafeMutableRawPointer(octets), operation)
    }

    static func authorityKeyIdentifier(_ identifier: Data, _ operation: String) throws -> OpaquePointer {
        guard let akid = AUTHORITY_KEYID_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { AUTHORITY_KEYID_free(akid) }
        akid.pointee.keyid = try ASN1.makeOctetString(identifier, operation)
        return try make(NID_authority_key_identifier, critical: false, UnsafeMutableRawPointer(akid), operation)
    }

    static func crlDistributionPoint(_ url: String, _ operation: String) throws -> OpaquePointer {
        guard let points = certbus_sk_DIST_POINT_new_null() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { CRL_DIST_POINTS_free(points) }
        guard let point = DIST_POINT_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        guard certbus_sk_DIST_POINT_push(points, point) > 0 else {
            DIST_POINT_free(point)
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        guard let name = DIST_POINT_NAME_new() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        point.pointee.distpoint = name
        name.pointee.type = 0
        name.pointee.name.fullname = try SubjectAlternativeName.makeGeneralNames([.uri(url)], operation)
        return try make(NID_crl_distribution_points, critical: false, UnsafeMutableRawPointer(points), operation)
    }

    static func authorityInformationAccess(ocspURL: String?, caIssuersURL: String?, _ operation: String) throws -> OpaquePointer {
        guard let access = certbus_sk_ACCESS_DESCRIPTION_new_null() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { AUTHORITY_INFO_ACCESS_free(access) }
        for (method, url) in [(NID_ad_OCSP, ocspURL), (NID_ad_ca_issuers, caIssuersURL)] {
            guard let url else { continue }
            guard let description = ACCESS_DESCRIPTION_new() else {
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
            guard certbus_sk_ACCESS_DESCRIPTION_push(access, description) > 0 else {
                ACCESS_DESCRIPTION_free(description)
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
            let location = try SubjectAlternativeName.uri(url).makeGeneralName(operation)
            GENERAL_NAME_free(description.pointee.location)
            description.pointee.location = location
            ASN1_OBJECT_free(description.pointee.method)
            description.pointee.method = OBJ_nid2obj(method)
        }
        return try make(NID_info_access, critical: false, UnsafeMutableRawPointer(access), operation)
    }

    /// certificatePolicies with bare policy OIDs (no qualifiers), already validated as dotted decimal.
    static func certificatePolicies(_ oids: [String], _ operation: String) throws -> OpaquePointer {
        guard let policies = certbus_sk_POLICYINFO_new_null() else {
            throw PKIError.openSSL(.internalFailure, operation, "out of memory")
        }
        defer { CERTIFICATEPOLICIES_free(policies) }
        for oid in oids {
            guard let object = OBJ_txt2obj(oid, 1) else {
                throw PKIError.openSSL(.invalidArgument, operation, "\"\(oid)\" is not a policy OID")
            }
            guard let info = POLICYINFO_new() else {
                ASN1_OBJECT_free(object)
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
            ASN1_OBJECT_free(info.pointee.policyid)
            info.pointee.policyid = object
            guard certbus_sk_POLICYINFO_push(policies, info) > 0 else {
                POLICYINFO_free(info)
                throw PKIError.openSSL(.internalFailure, operation, "out of memory")
            }
        }
        return try make(NID_certificate_policies, critical: false, UnsafeMutableRawPointer(policies), operation)
    }

    private static func make(_ nid: Int32, critical: Bool, _ value: UnsafeMutableRawPointer, _ operation: String) throws -> OpaquePointer {
        guard let ext = X509V3_EXT_i2d(nid, critical ? 1 : 0, value) else {
            let name = OBJ_nid2sn(nid).map { String(cString: $0) } ?? "extension"
            throw PKIError.openSSL(.internalFailure, operation, "cannot encode \(name)")
        }
        return ext
    }

    /// Adds `ext` to `x509` (OpenSSL copies it) and frees `ext`.
    static func add(_ ext: OpaquePointer, to x509: OpaquePointer, _ operation: String) throws {
        defer { X509_EXTENSION_free(ext) }
        guard X509_add_ext(x509, ext, -1) == 1 else {
            throw PKIError.openSSL(.internalFailure, operation, "cannot add an extension")
        }
    }
}
