#include "workers/server_tls.hpp"

#include <openssl/pem.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>

#include "workers/handshake_gate.hpp"
#include "workers/relay_tls.hpp"
#include "workers/tls_params.hpp"

namespace sni::worker {

namespace {

config::Result<X509Ptr, std::string> read_leaf(const std::string &path) {
    BIO *bio = BIO_new_file(path.c_str(), "r");
    if (bio == nullptr) return config::unexpected(path + ": " + take_openssl_errors());
    X509Ptr leaf(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    if (!leaf) return config::unexpected(path + ": no certificate: " + take_openssl_errors());
    return leaf;
}

config::Result<std::vector<std::uint8_t>, std::string> read_bytes(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return config::unexpected(path + ": cannot be read");
    std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                                    std::istreambuf_iterator<char>());
    if (bytes.empty()) return config::unexpected(path + ": empty OCSP response");
    return bytes;
}

}  // namespace

config::Result<std::unique_ptr<ServerTls>, std::string> ServerTls::create(
    const config::Route &route, bool ktls) {
    auto fail = [&](const std::string &what) {
        return config::unexpected("route " + route.name + ": client TLS: " + what);
    };
    if (!route.tls) return fail("no tls section");
    const config::ClientTls &tls = *route.tls;

    std::unique_ptr<ServerTls> self(new ServerTls());
    self->ctx_.reset(SSL_CTX_new(TLS_server_method()));
    SSL_CTX *ctx = self->ctx_.get();
    if (ctx == nullptr) return fail("SSL_CTX_new: " + take_openssl_errors());

    if (auto err = apply_versions_and_ciphers(ctx, tls.min_version, tls.max_version,
                                              tls.security_level, tls.ciphers, tls.ciphersuites);
        !err.empty())
        return fail(err);

    for (const auto &cert : tls.certificates) {
        if (auto err = load_certificate(ctx, cert.cert, cert.key); !err.empty()) return fail(err);
        if (cert.ocsp.empty()) continue;
        auto leaf = read_leaf(cert.cert);
        if (!leaf) return fail(leaf.error());
        auto response = read_bytes(cert.ocsp);
        if (!response) return fail(response.error());
        self->staples_.push_back({std::move(leaf).value(), std::move(response).value()});
    }

    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    set_relay_modes(ctx, ktls);
    const auto *sid = reinterpret_cast<const unsigned char *>(route.name.data());
    SSL_CTX_set_session_id_context(
        ctx, sid, static_cast<unsigned>(std::min<std::size_t>(route.name.size(), 32)));
    if (!tls.session_tickets) {
        SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(ctx, 0);
    }
    if (!tls.alpn.empty()) {
        self->alpn_ = alpn_wire(tls.alpn);
        SSL_CTX_set_alpn_select_cb(ctx, &ServerTls::on_alpn, self.get());
    }
    if (!self->staples_.empty()) {
        SSL_CTX_set_tlsext_status_cb(ctx, &ServerTls::on_status);
        SSL_CTX_set_tlsext_status_arg(ctx, self.get());
    }
    SSL_CTX_set_client_hello_cb(ctx, &HandshakeGate::on_client_hello, nullptr);
    return self;
}

// Server preference: the first of our protocols that the client offered. No overlap: no ALPN
// in the answer (the handshake goes on; RFC 7301 allows either).
int ServerTls::on_alpn(SSL * /*ssl*/, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned int inlen, void *arg) {
    const auto *self = static_cast<const ServerTls *>(arg);
    const auto &ours = self->alpn_;
    for (std::size_t i = 0; i < ours.size(); i += 1 + ours[i]) {
        const unsigned n = ours[i];
        for (unsigned j = 0; j < inlen;) {
            const unsigned m = in[j];
            if (j + 1 + m > inlen) break;
            if (m == n && std::memcmp(in + j + 1, ours.data() + i + 1, n) == 0) {
                *out = in + j + 1;
                *outlen = static_cast<unsigned char>(m);
                return SSL_TLSEXT_ERR_OK;
            }
            j += 1 + m;
        }
    }
    return SSL_TLSEXT_ERR_NOACK;
}

// Staples the OCSP response of the certificate OpenSSL chose for this client, if it has one.
int ServerTls::on_status(SSL *ssl, void *arg) {
    const auto *self = static_cast<const ServerTls *>(arg);
    X509 *chosen = SSL_get_certificate(ssl);
    if (chosen == nullptr) return SSL_TLSEXT_ERR_NOACK;
    for (const auto &staple : self->staples_) {
        if (X509_cmp(chosen, staple.leaf.get()) != 0) continue;
        void *copy = OPENSSL_memdup(staple.response.data(), staple.response.size());
        if (copy == nullptr) return SSL_TLSEXT_ERR_NOACK;
        SSL_set_tlsext_status_ocsp_resp(ssl, static_cast<unsigned char *>(copy),
                                        static_cast<long>(staple.response.size()));
        return SSL_TLSEXT_ERR_OK;
    }
    return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace sni::worker
