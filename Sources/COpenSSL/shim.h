#ifndef CERTBUS_COPENSSL_SHIM_H
#define CERTBUS_COPENSSL_SHIM_H
// OpenSSL 3 headers, plus static inline wrappers for the macros and variadics
// Swift cannot import. Add wrappers here and nowhere else.
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ec.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>

// ---- PKI module wrappers (Sources/PKI) ----------------------------------------------------------

/// OPENSSL_free is a macro (it passes __FILE__/__LINE__).
static inline void certbus_OPENSSL_free(void *p) { OPENSSL_free(p); }

/// OPENSSL_malloc is a macro (it passes __FILE__/__LINE__).
static inline void *certbus_OPENSSL_malloc(size_t n) { return OPENSSL_malloc(n); }

/// BIO_get_mem_data is a macro over BIO_ctrl.
static inline long certbus_BIO_get_mem_data(BIO *b, char **pp) { return BIO_get_mem_data(b, pp); }

// Typed stacks: the sk_TYPE_* accessors are macros in OpenSSL 3.
static inline GENERAL_NAMES *certbus_sk_GENERAL_NAME_new_null(void) { return sk_GENERAL_NAME_new_null(); }
static inline int certbus_sk_GENERAL_NAME_push(GENERAL_NAMES *sk, GENERAL_NAME *v) { return sk_GENERAL_NAME_push(sk, v); }
static inline int certbus_sk_GENERAL_NAME_num(const GENERAL_NAMES *sk) { return sk_GENERAL_NAME_num(sk); }
static inline GENERAL_NAME *certbus_sk_GENERAL_NAME_value(const GENERAL_NAMES *sk, int i) { return sk_GENERAL_NAME_value(sk, i); }

static inline STACK_OF(X509_EXTENSION) *certbus_sk_X509_EXTENSION_new_null(void) { return sk_X509_EXTENSION_new_null(); }
static inline int certbus_sk_X509_EXTENSION_push(STACK_OF(X509_EXTENSION) *sk, X509_EXTENSION *v) { return sk_X509_EXTENSION_push(sk, v); }
static inline void certbus_sk_X509_EXTENSION_pop_free(STACK_OF(X509_EXTENSION) *sk) { sk_X509_EXTENSION_pop_free(sk, X509_EXTENSION_free); }

static inline EXTENDED_KEY_USAGE *certbus_sk_ASN1_OBJECT_new_null(void) { return sk_ASN1_OBJECT_new_null(); }
static inline int certbus_sk_ASN1_OBJECT_push(EXTENDED_KEY_USAGE *sk, ASN1_OBJECT *v) { return sk_ASN1_OBJECT_push(sk, v); }
static inline int certbus_sk_ASN1_OBJECT_num(const EXTENDED_KEY_USAGE *sk) { return sk_ASN1_OBJECT_num(sk); }
static inline ASN1_OBJECT *certbus_sk_ASN1_OBJECT_value(const EXTENDED_KEY_USAGE *sk, int i) { return sk_ASN1_OBJECT_value(sk, i); }

static inline CRL_DIST_POINTS *certbus_sk_DIST_POINT_new_null(void) { return sk_DIST_POINT_new_null(); }
static inline int certbus_sk_DIST_POINT_push(CRL_DIST_POINTS *sk, DIST_POINT *v) { return sk_DIST_POINT_push(sk, v); }
static inline int certbus_sk_DIST_POINT_num(const CRL_DIST_POINTS *sk) { return sk_DIST_POINT_num(sk); }
static inline DIST_POINT *certbus_sk_DIST_POINT_value(const CRL_DIST_POINTS *sk, int i) { return sk_DIST_POINT_value(sk, i); }

static inline AUTHORITY_INFO_ACCESS *certbus_sk_ACCESS_DESCRIPTION_new_null(void) { return sk_ACCESS_DESCRIPTION_new_null(); }
static inline int certbus_sk_ACCESS_DESCRIPTION_push(AUTHORITY_INFO_ACCESS *sk, ACCESS_DESCRIPTION *v) { return sk_ACCESS_DESCRIPTION_push(sk, v); }
static inline int certbus_sk_ACCESS_DESCRIPTION_num(const AUTHORITY_INFO_ACCESS *sk) { return sk_ACCESS_DESCRIPTION_num(sk); }
static inline ACCESS_DESCRIPTION *certbus_sk_ACCESS_DESCRIPTION_value(const AUTHORITY_INFO_ACCESS *sk, int i) { return sk_ACCESS_DESCRIPTION_value(sk, i); }

static inline CERTIFICATEPOLICIES *certbus_sk_POLICYINFO_new_null(void) { return sk_POLICYINFO_new_null(); }
static inline int certbus_sk_POLICYINFO_push(CERTIFICATEPOLICIES *sk, POLICYINFO *v) { return sk_POLICYINFO_push(sk, v); }
static inline int certbus_sk_POLICYINFO_num(const CERTIFICATEPOLICIES *sk) { return sk_POLICYINFO_num(sk); }
static inline POLICYINFO *certbus_sk_POLICYINFO_value(const CERTIFICATEPOLICIES *sk, int i) { return sk_POLICYINFO_value(sk, i); }

static inline int certbus_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *sk) { return sk_X509_REVOKED_num(sk); }
static inline X509_REVOKED *certbus_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *sk, int i) { return sk_X509_REVOKED_value(sk, i); }

/// EVP_PKEY_PUBLIC_KEY is a macro built from other macros (the selection for EVP_PKEY_fromdata).
static inline int certbus_EVP_PKEY_PUBLIC_KEY(void) { return EVP_PKEY_PUBLIC_KEY; }

// ---- end PKI module wrappers --------------------------------------------------------------------

// ---- CertbusHTTP ---------------------------------------------------------
// Wrappers for the SSL_ctrl macros the HTTP client needs.
static inline int certbus_http_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}
static inline int certbus_http_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}
static inline uint64_t certbus_http_SSL_OP_IGNORE_UNEXPECTED_EOF(void) {
    return (uint64_t)SSL_OP_IGNORE_UNEXPECTED_EOF;
}
// ---- end CertbusHTTP -----------------------------------------------------

// ---- TLSProbe (Sources/CertbusHTTP/TLSProbe.swift) -----------------------
// Typed X509 stacks are macros in OpenSSL 3.
static inline int certbus_probe_sk_X509_num(const STACK_OF(X509) *sk) { return sk_X509_num(sk); }
static inline X509 *certbus_probe_sk_X509_value(const STACK_OF(X509) *sk, int i) { return sk_X509_value(sk, i); }
// ---- end TLSProbe --------------------------------------------------------

#endif
