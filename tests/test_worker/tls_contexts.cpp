#include "tls_contexts.hpp"

#include <openssl/err.h>

#include "workers/tls_params.hpp"

namespace sni::test_worker {

namespace {

std::string openssl_error() {
    char buf[256] = {};
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    ERR_clear_error();
    return buf;
}

}  // namespace

config::Result<std::vector<SslCtxPtr>, std::string> make_tls_contexts(
    const config::Config &config) {
    std::vector<SslCtxPtr> out;
    for (const auto &route : config.routes) {
        if (route.mode == config::RouteMode::kPassthrough || !route.tls ||
            route.tls->certificates.empty()) {
            out.emplace_back();
            continue;
        }
        SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
        if (!ctx) return config::unexpected("SSL_CTX_new: " + openssl_error());
        const auto &cert = route.tls->certificates.front();
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.cert.c_str()) != 1)
            return config::unexpected("route " + route.name + ": " + cert.cert + ": " +
                                      openssl_error());
        if (SSL_CTX_use_PrivateKey_file(ctx.get(), cert.key.c_str(), SSL_FILETYPE_PEM) != 1)
            return config::unexpected("route " + route.name + ": " + cert.key + ": " +
                                      openssl_error());
        SSL_CTX_set_min_proto_version(ctx.get(), worker::openssl_version(route.tls->min_version));
        SSL_CTX_set_max_proto_version(ctx.get(), worker::openssl_version(route.tls->max_version));
        SSL_CTX_set_mode(ctx.get(),
                         SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
        out.push_back(std::move(ctx));
    }
    return out;
}

}  // namespace sni::test_worker
