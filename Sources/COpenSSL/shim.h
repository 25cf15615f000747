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

#endif
