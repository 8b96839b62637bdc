// RAII owners for the OpenSSL objects the worker uses, and error-queue helpers.
#pragma once

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace sni::worker {

struct SslCtxDeleter {
    void operator()(SSL_CTX *p) const { SSL_CTX_free(p); }
};
struct SslDeleter {
    void operator()(SSL *p) const { SSL_free(p); }
};
struct SslSessionDeleter {
    void operator()(SSL_SESSION *p) const { SSL_SESSION_free(p); }
};
struct X509Deleter {
    void operator()(X509 *p) const { X509_free(p); }
};
struct EvpPkeyDeleter {
    void operator()(EVP_PKEY *p) const { EVP_PKEY_free(p); }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, SslSessionDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

// Drains OpenSSL's error queue of this thread into one line ("" when it was empty).
std::string take_openssl_errors();

}  // namespace sni::worker
