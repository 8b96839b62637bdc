// The client side of a Connection: the TLS handshake over the handed-over socket, with the
// ClientHello replayed from the handoff through the prefix BIO.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "workers/connection.hpp"
#include "workers/ktls.hpp"
#include "workers/relay_tls.hpp"

namespace sni::worker {

bool Connection::setup_client_tls() {
    client_tls_ = true;
    SslPtr ssl(SSL_new(route_.server_tls->ctx()));
    if (!ssl) return false;
    BioPtr bio = make_prefixed_socket_bio(env_.prefix, hello_, client_.fd());
    if (!bio) return false;
    BIO *raw = bio.release();
    SSL_set_bio(ssl.get(), raw, raw);  // one reference, owned by the SSL
    SSL_set_accept_state(ssl.get());
    gate_.attach(ssl.get());
    client_.set_ssl(std::move(ssl));
    hello_.clear();  // the prefix BIO has its own copy
    hello_.shrink_to_fit();
    return true;
}

LegTls Connection::leg_tls(SSL *ssl) {
    LegTls out;
    out.version = SSL_get_version(ssl);
    if (const char *c = SSL_get_cipher_name(ssl)) out.cipher = c;
    const unsigned char *alpn = nullptr;
    unsigned int alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn != nullptr) out.alpn.assign(reinterpret_cast<const char *>(alpn), alpn_len);
    out.resumed = SSL_session_reused(ssl) == 1;
    out.ktls = ktls_status(ssl);
    return out;
}

void Connection::drive_client_handshake(Clock::time_point now) {
    const IoResult r = client_.handshake();
    switch (r.status) {
        case IoStatus::kOk: {
            client_ready_ = true;
            client_want_ = 0;
            // TLS 1.3 with no tickets: the client's Finished gets no answer from us, so the
            // kernel would delay its ACK (up to 40 ms), and a client with Nagle on holds its
            // first request until that ACK. ACK it now (measured: new-connection p50 60 -> 22 ms).
            const int one = 1;
            ::setsockopt(client_.fd(), IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
            stats_.client = leg_tls(client_.ssl());
            read_ahead_unless_ktls_rx(client_.ssl(), stats_.client.ktls.rx);
            stats_.client_handshake_us = since_start_us(now);
            env_.log.debug(
                "client handshake done",
                {log::kv("conn", stats_.conn_id), log::kv("version", stats_.client.version),
                 log::kv("cipher", stats_.client.cipher), log::kv("alpn", stats_.client.alpn),
                 log::kv("ktls_tx", stats_.client.ktls.tx),
                 log::kv("ktls_rx", stats_.client.ktls.rx)});
            return;
        }
        case IoStatus::kWantRead:
            client_want_ = EPOLLIN;
            return;
        case IoStatus::kWantWrite:
            client_want_ = EPOLLOUT;
            return;
        case IoStatus::kEof:
        case IoStatus::kError:
            break;
    }
    if (!pending_failure_.empty())
        finish(conn_report::CloseReason::kBackendUnreachable, pending_failure_,
               now);  // the internal_error alert has been sent
    else
        finish(conn_report::CloseReason::kClientHandshake, "client handshake: " + r.error, now);
}

}  // namespace sni::worker
