// The backend side of a Connection: server choice, non-blocking connect with one retry on
// another server, the PROXY v2 header / ClientHello preamble, and the backend TLS handshake.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/socket_facts.hpp"
#include "workers/connection.hpp"
#include "workers/proxy_v2.hpp"
#include "workers/relay_tls.hpp"

namespace sni::worker {

void Connection::connect_next(Clock::time_point now) {
    if (tried_count_ == kMaxAttempts) {  // the first server, then one other
        backend_unreachable(pending_failure_, now);
        return;
    }
    const auto pick = route_.balancer.pick(now, std::span(tried_.data(), tried_count_));
    if (!pick) {
        if (tried_count_ > 0)
            backend_unreachable(pending_failure_, now);
        else
            backend_unreachable(
                route_.route->backend.health_check ? "no healthy server" : "no usable server", now);
        return;
    }
    const std::size_t s = *pick;
    tried_[tried_count_++] = s;
    server_ = s;
    route_.balancer.acquire(s);
    ++stats_.connect_attempts;
    const ServerAddress &addr = route_.servers[s];
    stats_.backend_addr = addr.text;

    UniqueFd fd(::socket(addr.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) {
        connect_failed(std::string("socket: ") + std::strerror(errno), now);
        return;
    }
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    backend_.set_fd(std::move(fd));
    int rc;
    do {
        rc = ::connect(backend_.fd(), reinterpret_cast<const sockaddr *>(&addr.addr), addr.len);
    } while (rc != 0 && errno == EINTR);
    if (rc == 0) {
        on_connect_result(0, now);
    } else if (errno == EINPROGRESS) {
        backend_state_ = Backend::kConnecting;
        connect_deadline_ = now + route_.route->backend.connect_timeout;
        // A backend on this host has usually answered already (loopback handles the SYN-ACK
        // inside connect()): go on now rather than after an epoll round trip for EPOLLOUT, one
        // wake-up and one epoll_ctl fewer per connection (docs/performance.md). Elsewhere this
        // costs one getsockopt per connection.
        switch (tcp_connect_progress(backend_.fd())) {
            case ConnectProgress::kEstablished:
                on_connect_result(0, now);
                break;
            case ConnectProgress::kFailed: {
                const int err = socket_error(backend_.fd());
                on_connect_result(err != 0 ? err : ECONNREFUSED, now);
                break;
            }
            case ConnectProgress::kPending:
                break;
        }
    } else {
        connect_failed(std::strerror(errno), now);
    }
}

void Connection::on_connect_result(int err, Clock::time_point now) {
    if (err != 0) {
        connect_failed(std::strerror(err), now);
        return;
    }
    route_.balancer.connect_succeeded(*server_);
    stats_.backend_server = static_cast<int>(*server_);
    stats_.backend_connected_us = since_start_us(now);
    backend_state_ = Backend::kPreamble;
    connect_deadline_ = now + route_.route->backend.connect_timeout;
    backend_want_ = 0;
    pending_failure_.clear();
    gate_.open();
    env_.log.debug("backend connected",
                   {log::kv("conn", stats_.conn_id), log::kv("route", stats_.route),
                    log::kv("server", stats_.backend_addr)});
}

void Connection::connect_failed(const std::string &why, Clock::time_point now) {
    const std::size_t s = *server_;
    const std::string &text = route_.servers[s].text;
    env_.log.warn(
        "backend connect failed",
        {log::kv("conn", stats_.conn_id), log::kv("route", stats_.route), log::kv("server", text),
         log::kv("attempt", stats_.connect_attempts), log::kv("error", why)});
    route_.balancer.release(s);
    server_.reset();
    const std::uint64_t bit = s < 64 ? std::uint64_t(1) << s : 0;
    stats_.failed_servers |= bit;
    if (route_.balancer.connect_failed(s, now)) {
        stats_.ejected_servers |= bit;
        env_.log.warn("backend server ejected",
                      {log::kv("route", stats_.route), log::kv("server", text),
                       log::kv("for_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                             Balancer::kEjectFor)
                                             .count())});
    }
    if (backend_.in_epoll) env_.epoll.remove(backend_.fd());
    backend_.in_epoll = false;
    backend_.events = 0;
    backend_.close();
    backend_state_ = Backend::kIdle;
    pending_failure_ += (pending_failure_.empty() ? "" : "; ") + text + ": " + why;
    connect_next(now);  // another server, or backend_unreachable once kMaxAttempts were tried
}

// No server could be connected: an internal_error alert for a TLS client still held at its
// ClientHello, a plain close otherwise (passthrough).
void Connection::backend_unreachable(const std::string &why, Clock::time_point now) {
    const std::string reason = "backend unreachable: " + why;
    if (!client_tls_ || gate_.passed()) {
        finish(conn_report::CloseReason::kBackendUnreachable, reason, now);
        return;
    }
    pending_failure_ = reason;
    gate_.fail();
    drive_client_handshake(now);  // the ClientHello callback fails: OpenSSL sends the alert
    if (!finished_) finish(conn_report::CloseReason::kBackendUnreachable, reason, now);
}

bool Connection::build_preamble() {
    if (client_tls_ && !gate_.passed()) return false;  // the ALPN is not known yet
    preamble_built_ = true;
    if (route_.route->backend.proxy_protocol == config::ProxyProtocol::kV2) {
        std::string alpn;
        if (SSL *cs = client_.ssl()) {
            const unsigned char *p = nullptr;
            unsigned int n = 0;
            SSL_get0_alpn_selected(cs, &p, &n);
            if (p != nullptr) alpn.assign(reinterpret_cast<const char *>(p), n);
        }
        preamble_ = proxy_v2_header(handoff_.client, handoff_.client_len, handoff_.local,
                                    handoff_.local_len, stats_.sni, alpn);
    }
    if (!client_tls_) {
        stats_.bytes_up += hello_.size();
        if (preamble_.empty())
            preamble_ = std::move(hello_);  // no PROXY header: the ClientHello's own buffer
        else
            preamble_.insert(preamble_.end(), hello_.begin(), hello_.end());
        hello_ = {};
    }
    return true;
}

void Connection::write_preamble(Clock::time_point now) {
    if (!preamble_built_ && !build_preamble()) return;
    backend_want_ = 0;
    while (preamble_sent_ < preamble_.size()) {
        const IoResult w =
            backend_.write({preamble_.data() + preamble_sent_, preamble_.size() - preamble_sent_});
        if (w.status == IoStatus::kOk) {
            preamble_sent_ += w.bytes;
            continue;
        }
        if (w.status == IoStatus::kWantWrite) {
            backend_want_ = EPOLLOUT;
            return;
        }
        finish(conn_report::CloseReason::kBackendError, "backend " + w.error, now);
        return;
    }
    preamble_.clear();
    preamble_.shrink_to_fit();
    if (route_.backend_tls) {
        if (start_backend_tls(now)) backend_state_ = Backend::kHandshake;
    } else {
        backend_state_ = Backend::kReady;
    }
}

bool Connection::start_backend_tls(Clock::time_point now) {
    backend_ssl_.cache = &route_.backend_tls->sessions();
    backend_ssl_.server = *server_;
    backend_ssl_.sni = route_.backend_tls->sni_for(stats_.sni);
    std::string alpn;
    if (SSL *cs = client_.ssl()) {
        const unsigned char *p = nullptr;
        unsigned int n = 0;
        SSL_get0_alpn_selected(cs, &p, &n);
        if (p != nullptr) alpn.assign(reinterpret_cast<const char *>(p), n);
    }
    auto ssl = route_.backend_tls->new_ssl(backend_.fd(), backend_ssl_, alpn);
    if (!ssl) {
        finish(conn_report::CloseReason::kInternal, "backend TLS setup: " + ssl.error(), now);
        return false;
    }
    backend_.set_ssl(std::move(ssl).value());
    return true;
}

// A server that keeps refusing the sessions it is offered is skipped for a while (SessionCache):
// logged when that starts (info) and each time it grows (debug), so an operator can see why
// nothing resumes.
void Connection::note_session_offer() {
    const std::uint32_t skip = route_.backend_tls->record_handshake(backend_ssl_, backend_.ssl());
    if (skip == 0) return;
    const std::initializer_list<log::Field> fields = {log::kv("route", stats_.route),
                                                      log::kv("server", stats_.backend_addr),
                                                      log::kv("not_offered_for_connections", skip)};
    if (skip == SessionCache::kFirstBackoff)
        env_.log.info("backend refuses session resumption", fields);
    else
        env_.log.debug("backend refuses session resumption", fields);
}

std::string Connection::backend_handshake_error(const IoResult &r) const {
    SSL *bs = backend_.ssl();
    const long verify = bs != nullptr ? SSL_get_verify_result(bs) : X509_V_OK;
    if (verify == X509_V_OK) return r.error;
    std::string out =
        std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    if (!backend_ssl_.verify_note.empty()) out += " (" + backend_ssl_.verify_note + ")";
    return out;
}

void Connection::drive_backend_handshake(Clock::time_point now) {
    const IoResult r = backend_.handshake();
    switch (r.status) {
        case IoStatus::kOk:
            backend_state_ = Backend::kReady;
            backend_want_ = 0;
            stats_.backend = leg_tls(backend_.ssl());
            read_ahead_unless_ktls_rx(backend_.ssl(), stats_.backend.ktls.rx);
            note_session_offer();
            env_.log.debug("backend handshake done", {log::kv("conn", stats_.conn_id),
                                                      log::kv("version", stats_.backend.version),
                                                      log::kv("cipher", stats_.backend.cipher),
                                                      log::kv("resumed", stats_.backend.resumed),
                                                      log::kv("ktls_tx", stats_.backend.ktls.tx),
                                                      log::kv("ktls_rx", stats_.backend.ktls.rx)});
            return;
        case IoStatus::kWantRead:
            backend_want_ = EPOLLIN;
            return;
        case IoStatus::kWantWrite:
            backend_want_ = EPOLLOUT;
            return;
        case IoStatus::kEof:
        case IoStatus::kError:
            break;
    }
    const std::string why = backend_handshake_error(r);
    route_.backend_tls->sessions().forget(*server_);
    env_.log.warn("backend handshake failed",
                  {log::kv("conn", stats_.conn_id), log::kv("route", stats_.route),
                   log::kv("server", stats_.backend_addr), log::kv("error", why)});
    finish(conn_report::CloseReason::kBackendHandshake, "backend handshake: " + why, now);
}

}  // namespace sni::worker
