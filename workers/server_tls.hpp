// The client-facing TLS of one route (modes reencrypt and terminate): one server SSL_CTX built
// once at start with every certificate of the route (OpenSSL picks ECDSA or RSA by what the
// client supports), versions, security level, ciphers, ALPN (server preference among the
// client's offer), session tickets on/off, kTLS enabled, OCSP staples, and the handshake gate.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "workers/ossl.hpp"

namespace sni::worker {

class ServerTls {
  public:
    // Everything is loaded and checked here; the error names the route and the file. `ktls`:
    // ask OpenSSL for kTLS (false where the kernel has no tls ULP).
    static config::Result<std::unique_ptr<ServerTls>, std::string> create(
        const config::Route &route, bool ktls = true);

    ServerTls(const ServerTls &) = delete;
    ServerTls &operator=(const ServerTls &) = delete;

    SSL_CTX *ctx() const { return ctx_.get(); }

  private:
    ServerTls() = default;

    static int on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg);
    static int on_status(SSL *ssl, void *arg);

    struct Staple {
        X509Ptr leaf;
        std::vector<std::uint8_t> response;  // DER OCSPResponse
    };

    SslCtxPtr ctx_;
    std::vector<std::uint8_t> alpn_;  // server preference, wire format
    std::vector<Staple> staples_;
};

}  // namespace sni::worker
