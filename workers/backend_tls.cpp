#include "workers/backend_tls.hpp"

#include <arpa/inet.h>
#include <openssl/x509v3.h>

#include "workers/relay_tls.hpp"
#include "workers/spki_pin.hpp"
#include "workers/tls_params.hpp"

namespace sni::worker {

namespace {

bool is_ip_literal(const std::string &name) {
    unsigned char buf[16];
    return ::inet_pton(AF_INET, name.c_str(), buf) == 1 ||
           ::inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

config::Result<std::unique_ptr<BackendTls>, std::string> BackendTls::create(
    const config::Route &route, VerifyCache::Clock clock, bool ktls, OSSL_LIB_CTX *libctx) {
    auto fail = [&](const std::string &what) {
        return config::unexpected("route " + route.name + ": backend TLS: " + what);
    };
    if (!route.backend.tls) return fail("no backend tls settings");
    const config::BackendTls &tls = *route.backend.tls;

    std::unique_ptr<BackendTls> self(new BackendTls(tls, route.backend.servers.size()));
    self->ctx_.reset(SSL_CTX_new_ex(libctx, nullptr, TLS_client_method()));
    SSL_CTX *ctx = self->ctx_.get();
    if (ctx == nullptr) return fail("SSL_CTX_new: " + take_openssl_errors());

    // TLS 1.0/1.1 need level 0 in OpenSSL 3 (the validator insists on it; be safe anyway).
    std::optional<int> level = tls.security_level;
    if (!level && tls.min_version < config::TlsVersion::kTls1_2) level = 0;
    if (auto err = apply_versions_and_ciphers(ctx, tls.min_version, tls.max_version, level,
                                              tls.ciphers, tls.ciphersuites);
        !err.empty())
        return fail(err);

    if (tls.verify.enabled) {
        const bool loaded = tls.verify.ca.empty()
                                ? SSL_CTX_set_default_verify_paths(ctx) == 1
                                : SSL_CTX_load_verify_file(ctx, tls.verify.ca.c_str()) == 1;
        if (!loaded) return fail("CA " + tls.verify.ca + ": " + take_openssl_errors());
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
        for (const auto &pin : tls.verify.pin_sha256) self->pins_.push_back(normalize_pin(pin));
        SSL_CTX_set_cert_verify_callback(ctx, &BackendTls::on_verify, self.get());
        // A verdict that depends on more than the bytes, the store, the name and the time
        // window (revocation lists) must not be remembered.
        constexpr unsigned long kStateful = X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
        const unsigned long flags =
            X509_VERIFY_PARAM_get_flags(SSL_CTX_get0_param(ctx)) |
            X509_VERIFY_PARAM_get_flags(X509_STORE_get0_param(SSL_CTX_get_cert_store(ctx)));
        if (tls.verify.cache && (flags & kStateful) == 0)
            self->verify_cache_ = std::make_unique<VerifyCache>(std::move(clock));
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    }
    if (tls.client_certificate) {
        if (auto err =
                load_certificate(ctx, tls.client_certificate->cert, tls.client_certificate->key);
            !err.empty())
            return fail("client certificate: " + err);
    }
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
    set_relay_modes(ctx, ktls);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, &BackendTls::on_new_session);
    return self;
}

std::string BackendTls::sni_for(std::string_view client_sni) const {
    switch (tls_.sni_mode) {
        case config::BackendSni::kNone:
            return "";
        case config::BackendSni::kFixed:
            return tls_.sni;
        case config::BackendSni::kClient:
            return std::string(client_sni);
    }
    return "";
}

config::Result<SslPtr, std::string> BackendTls::new_ssl(int fd, BackendSslState &state,
                                                        std::string_view client_alpn, bool resume) {
    SslPtr ssl(SSL_new(ctx_.get()));
    if (!ssl) return config::unexpected("SSL_new: " + take_openssl_errors());
    BIO *bio = BIO_new_socket(fd, BIO_NOCLOSE);
    if (bio == nullptr) return config::unexpected("BIO_new_socket: " + take_openssl_errors());
    SSL_set_bio(ssl.get(), bio, bio);
    SSL_set_connect_state(ssl.get());
    SSL_set_app_data(ssl.get(), &state);

    if (!state.sni.empty() && SSL_set_tlsext_host_name(ssl.get(), state.sni.c_str()) != 1)
        return config::unexpected("SNI \"" + state.sni + "\": " + take_openssl_errors());
    if (tls_.verify.enabled) {
        const std::string &name = verify_name(state);
        if (!name.empty()) {
            X509_VERIFY_PARAM *param = SSL_get0_param(ssl.get());
            const bool ok = is_ip_literal(name)
                                ? X509_VERIFY_PARAM_set1_ip_asc(param, name.c_str()) == 1
                                : SSL_set1_host(ssl.get(), name.c_str()) == 1;
            if (!ok) return config::unexpected("verify name \"" + name + "\" rejected");
            SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        }
    }
    std::vector<std::uint8_t> alpn;
    if (tls_.alpn_mode == config::BackendAlpn::kForward) {
        if (!client_alpn.empty()) alpn = alpn_wire({std::string(client_alpn)});
    } else {
        alpn = alpn_wire(tls_.alpn);
    }
    if (!alpn.empty() &&
        SSL_set_alpn_protos(ssl.get(), alpn.data(), static_cast<unsigned>(alpn.size())) != 0)
        return config::unexpected("ALPN: " + take_openssl_errors());
    state.offered = false;
    if (SSL_SESSION *cached = resume ? sessions_.offer(state.server, state.sni) : nullptr)
        state.offered = SSL_set_session(ssl.get(), cached) == 1;
    return ssl;
}

std::uint32_t BackendTls::record_handshake(const BackendSslState &state, SSL *ssl) {
    if (!state.offered) return 0;
    return sessions_.record_offer(state.server, SSL_session_reused(ssl) == 1);
}

const std::string &BackendTls::verify_name(const BackendSslState &state) const {
    return tls_.verify.name.empty() ? state.sni : tls_.verify.name;
}

// The chain check (once per chain, name and time window when the cache is on), then the SPKI
// pins (when configured) on the leaf, every time.
int BackendTls::on_verify(X509_STORE_CTX *store, void *arg) {
    return static_cast<BackendTls *>(arg)->verify_chain(store);
}

int BackendTls::verify_chain(X509_STORE_CTX *store) {
    auto *ssl =
        static_cast<SSL *>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    auto *state = ssl != nullptr ? static_cast<BackendSslState *>(SSL_get_app_data(ssl)) : nullptr;
    std::optional<VerifyCache::Key> key;
    if (verify_cache_ && state != nullptr) key = VerifyCache::key_of(store, verify_name(*state));
    if (!key || !verify_cache_->apply(*key, store)) {
        const int ok = X509_verify_cert(store);
        if (ok <= 0) return ok;
        if (key) verify_cache_->insert(*key, store);
    }
    if (pins_.empty()) return 1;
    X509 *leaf = X509_STORE_CTX_get0_cert(store);
    if (leaf != nullptr && pin_matches(leaf, pins_)) return 1;
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    if (state != nullptr)
        state->verify_note =
            "certificate key " + (leaf ? spki_sha256_hex(leaf) : "") + " matches no pin_sha256";
    return 0;
}

// Keeps the newest session per server (TLS 1.3 tickets arrive after the handshake).
int BackendTls::on_new_session(SSL *ssl, SSL_SESSION *session) {
    auto *state = static_cast<BackendSslState *>(SSL_get_app_data(ssl));
    if (state == nullptr || state->cache == nullptr) return 0;
    state->cache->store(state->server, state->sni, SslSessionPtr(session));
    return 1;  // we own the reference now
}

}  // namespace sni::worker
