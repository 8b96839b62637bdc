// The backend-facing TLS of one reencrypt route: one client SSL_CTX built once at start
// (versions incl. TLS 1.0/1.1 at security level 0, ciphers, verification against the CA file,
// optional SPKI SHA-256 pins checked in the verify callback, optional client certificate, kTLS
// enabled), plus a per-server session cache so repeat connections resume, and a cache of
// backend chains that verified (full handshakes verify the same chain only once).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "workers/ossl.hpp"
#include "workers/session_cache.hpp"
#include "workers/verify_cache.hpp"

namespace sni::worker {

class BackendTls {
  public:
    // `clock` is the verify cache's clock (tests inject one; empty = time()). `ktls`: ask
    // OpenSSL for kTLS (false where the kernel has no tls ULP: each try is a failing syscall).
    // `libctx`: the library context of the SSL_CTX (CertDecodeCtx; nullptr = the default).
    static config::Result<std::unique_ptr<BackendTls>, std::string> create(
        const config::Route &route, VerifyCache::Clock clock = {}, bool ktls = true,
        OSSL_LIB_CTX *libctx = nullptr);

    BackendTls(const BackendTls &) = delete;
    BackendTls &operator=(const BackendTls &) = delete;

    // The SNI to send for a client that sent `client_sni` ("" = none).
    std::string sni_for(std::string_view client_sni) const;

    // A client SSL over `fd` (not owned) for server `state.server`: SNI `state.sni`, the name
    // check, ALPN (`client_alpn` = the protocol negotiated with the client, for `forward`) and
    // the cached session (unless `resume` is false: health checks make full handshakes).
    // `state` must outlive the SSL.
    config::Result<SslPtr, std::string> new_ssl(int fd, BackendSslState &state,
                                                std::string_view client_alpn, bool resume = true);

    // After a completed handshake of `ssl`, made by new_ssl with `state`: tells the session
    // cache whether the session it offered (if any) was resumed. Returns what
    // SessionCache::record_offer returns (0 when nothing was offered).
    std::uint32_t record_handshake(const BackendSslState &state, SSL *ssl);

    SessionCache &sessions() { return sessions_; }
    SSL_CTX *ctx() const { return ctx_.get(); }
    // nullptr when the route verifies nothing or has `verify: {cache: false}`.
    const VerifyCache *verify_cache() const { return verify_cache_.get(); }

  private:
    explicit BackendTls(const config::BackendTls &tls, std::size_t servers)
        : tls_(tls), sessions_(servers, tls.session_reuse) {}

    static int on_verify(X509_STORE_CTX *store, void *arg);
    static int on_new_session(SSL *ssl, SSL_SESSION *session);
    // The name the certificate must match for `state` ("" = none).
    const std::string &verify_name(const BackendSslState &state) const;
    int verify_chain(X509_STORE_CTX *store);

    config::BackendTls tls_;
    std::vector<std::string> pins_;  // normalized
    SslCtxPtr ctx_;
    SessionCache sessions_;
    std::unique_ptr<VerifyCache> verify_cache_;
};

}  // namespace sni::worker
