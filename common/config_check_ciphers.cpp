#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>

#include "common/config_validate.hpp"

namespace sni::config {
namespace {

struct SslCtxFree {
    void operator()(SSL_CTX *ctx) const { SSL_CTX_free(ctx); }
};
using SslCtx = std::unique_ptr<SSL_CTX, SslCtxFree>;

class CipherChecker {
  public:
    CipherChecker() : ctx_(SSL_CTX_new(TLS_method())) {}

    void check(Diagnostics &d, const std::string &path, const std::string &ciphers,
               const std::string &ciphersuites) {
        if (!ctx_) return;  // cannot check without OpenSSL; the worker will report it
        const std::string ciphers_path = child_path(path, "ciphers");
        if (!ciphers.empty() && !d.failed(ciphers_path) &&
            SSL_CTX_set_cipher_list(ctx_.get(), ciphers.c_str()) != 1) {
            d.error(ciphers_path, "\"" + ciphers +
                                      "\" selects no cipher OpenSSL knows (see `openssl "
                                      "ciphers -v '<list>'`)");
        }
        const std::string suites_path = child_path(path, "ciphersuites");
        if (!ciphersuites.empty() && !d.failed(suites_path) &&
            SSL_CTX_set_ciphersuites(ctx_.get(), ciphersuites.c_str()) != 1) {
            d.error(suites_path, "\"" + ciphersuites +
                                     "\" is not a list of TLS 1.3 cipher suites OpenSSL knows "
                                     "(e.g. \"TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384\")");
        }
        ERR_clear_error();
    }

  private:
    SslCtx ctx_;
};

}  // namespace

void check_cipher_strings(const Config &config, Diagnostics &d) {
    CipherChecker checker;
    for (std::size_t i = 0; i < config.routes.size(); ++i) {
        const Route &route = config.routes[i];
        const std::string path = index_path("routes", i);
        if (route.tls)
            checker.check(d, child_path(path, "tls"), route.tls->ciphers, route.tls->ciphersuites);
        if (route.backend.tls)
            checker.check(d, child_path(path, "backend"), route.backend.tls->ciphers,
                          route.backend.tls->ciphersuites);
    }
}

}  // namespace sni::config
