#include "workers/connection.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>

#include "common/clienthello.hpp"
#include "common/socket_facts.hpp"
#include "common/config_enums.hpp"
#include "workers/backend_addrs.hpp"

namespace sni::worker {

namespace {

std::string mode_name(config::RouteMode mode) {
    for (const auto &e : config::kRouteModeNames)
        if (e.value == mode) return std::string(e.name);
    return "unknown";
}

std::string join(const std::vector<std::string> &items) {
    std::string out;
    for (const auto &s : items) out += (out.empty() ? "" : ",") + s;
    return out;
}

}  // namespace

Connection::Connection(ConnEnv &env, RouteRuntime &route, handoff::Received received,
                       std::uint64_t id)
    : env_(env),
      route_(route),
      handoff_(received.handoff),
      hello_(std::move(received.hello)),
      id_(id) {
    // The daemon accepts with SOCK_NONBLOCK and says so (Handoff::nonblocking); its listeners
    // set TCP_NODELAY, which accepted sockets inherit: only a socket from elsewhere is checked,
    // and made non-blocking if it is not.
    const int fd = received.conn.get();
    if (!handoff_.nonblocking)
        if (const int fl = ::fcntl(fd, F_GETFL); fl >= 0 && (fl & O_NONBLOCK) == 0)
            ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    client_.set_fd(std::move(received.conn));

    client_in_map_ = handoff_.in_relay_map;
    stats_.conn_id = handoff_.conn_id;
    stats_.listener_id = handoff_.listener_id;
    stats_.route_id = handoff_.route_id;
    stats_.accepted_ns = handoff_.accepted_ns;
    if (env_.listeners != nullptr && handoff_.listener_id < env_.listeners->size())
        stats_.listener = (*env_.listeners)[handoff_.listener_id];
    stats_.route = route_.route->name;
    stats_.mode = mode_name(route_.route->mode);
    stats_.client_addr = address_text(handoff_.client, handoff_.client_len);
    stats_.sni = std::string(sni_of(handoff_.facts));
    stats_.offered_alpn = join(alpn_protocols(handoff_.facts));
}

Connection::~Connection() {
    if (!finished_) finish(conn_report::CloseReason::kWorkerShutdown, "worker exit", Clock::now());
}

void Connection::start(Clock::time_point now) {
    started_ = last_activity_ = now;
    if (route_.route->mode != config::RouteMode::kPassthrough) {
        if (!setup_client_tls()) {
            finish(conn_report::CloseReason::kInternal, "client TLS setup failed", now);
            return;
        }
        drive_client_handshake(now);  // reads the ClientHello, then waits at the gate
        if (finished_) return;
    } else {
        client_ready_ = true;
    }
    connect_next(now);
    advance(now);
}

void Connection::on_event(LegId leg, std::uint32_t events, Clock::time_point now) {
    if (finished_) return;
    if (kernel_) {
        kernel_event(leg, events, now);
        return;
    }
    last_activity_ = now;
    if (leg == LegId::kBackend && backend_state_ == Backend::kConnecting) {
        // TCP reports EPOLLOUT only once the connection is established (tcp_poll: nothing while
        // SYN_SENT), so a plain EPOLLOUT needs no SO_ERROR to confirm it.
        if (events & (EPOLLERR | EPOLLHUP)) {
            int err = socket_error(backend_.fd());
            if (err == 0 && !(events & EPOLLOUT)) err = ECONNRESET;  // HUP/ERR without an error
            on_connect_result(err, now);
        } else if (events & EPOLLOUT) {
            on_connect_result(0, now);
        }
    }
    wake_ = Wake{leg, events};
    advance(now);
    wake_.reset();
}

void Connection::on_timer(Clock::time_point now) {
    if (finished_) return;
    if (establishing() && now >= connect_deadline_) {
        if (backend_state_ == Backend::kConnecting) {
            connect_failed("connect timeout", now);
            advance(now);
        } else {
            finish(conn_report::CloseReason::kBackendTimeout,
                   backend_state_ == Backend::kHandshake ? "backend TLS handshake timeout"
                                                         : "backend write timeout",
                   now);
        }
        return;
    }
    if (kernel_) kernel_progress(now, true);
    if (finished_) return;
    if (now >= last_activity_ + route_.route->idle_timeout)
        finish(conn_report::CloseReason::kIdleTimeout, "idle timeout", now);
}

void Connection::resume(Clock::time_point now) {
    wants_resume_ = false;
    advance(now);
}

void Connection::abort(const std::string &reason, Clock::time_point now) {
    const bool shutdown = reason == "worker shutdown";
    finish(
        shutdown ? conn_report::CloseReason::kWorkerShutdown : conn_report::CloseReason::kInternal,
        reason, now);
}

Clock::time_point Connection::deadline() const {
    const Clock::time_point idle = last_activity_ + route_.route->idle_timeout;
    if (establishing() && connect_deadline_ < idle) return connect_deadline_;
    if (kernel_ && k_flush_at_ && *k_flush_at_ < idle) return *k_flush_at_;
    return idle;
}

void Connection::advance(Clock::time_point now) {
    if (finished_) return;
    const bool held =
        gate_.state() == HandshakeGate::State::kHold && client_.hello_callback_pending();
    if (client_tls_ && !client_ready_ && !held) drive_client_handshake(now);
    if (finished_) return;
    if (backend_state_ == Backend::kPreamble) write_preamble(now);
    if (finished_) return;
    if (backend_state_ == Backend::kHandshake) drive_backend_handshake(now);
    if (finished_) return;
    if (!relaying_ && client_ready_ && backend_state_ == Backend::kReady) start_relay();
    if (finished_) return;
    if (kernel_) {
        update_interest();
        return;
    }
    if (relaying_) pump(now);
    if (!finished_) update_interest();
}

void Connection::start_relay() {
    relaying_ = true;
    if (route_.route->mode == config::RouteMode::kPassthrough && start_kernel_relay(Clock::now()))
        return;
    if (finished_) return;
    up_ = std::make_unique<Direction>(client_, backend_);
    down_ = std::make_unique<Direction>(backend_, client_);
    // splice() needs plaintext at the socket on both ends of a direction: no TLS, or kTLS in
    // that direction, and nothing left buffered above the socket.
    SSL *cs = client_.ssl();
    SSL *bs = backend_.ssl();
    const bool client_drained =
        cs == nullptr || (SSL_has_pending(cs) == 0 && env_.prefix.remaining(SSL_get_rbio(cs)) == 0);
    const bool backend_drained = bs == nullptr || SSL_has_pending(bs) == 0;
    const bool client_rx = (cs == nullptr && !client_in_map_) || stats_.client.ktls.rx;
    const bool client_tx = cs == nullptr || stats_.client.ktls.tx;
    const bool backend_rx = bs == nullptr || stats_.backend.ktls.rx;
    const bool backend_tx = bs == nullptr || stats_.backend.ktls.tx;
    if (client_rx && client_drained && backend_tx) stats_.splice_up = up_->use_splice();
    if (backend_rx && backend_drained && client_tx) stats_.splice_down = down_->use_splice();
    // Fewer syscalls per message (docs/performance.md, "Keep-alive relay"): a TLS leg that
    // reads ahead brings many records per recv() and hands OpenSSL one at a time, and says when
    // a read emptied it, so a direction waits for EPOLLIN instead of reading once more into
    // EAGAIN; a pump's records leave with one write().
    for (Leg *leg : {&client_, &backend_}) {
        leg->read_records_ahead();
        leg->track_drain();
        leg->coalesce_writes();
    }
    if (env_.reports != nullptr)
        env_.reports->send(make_report(stats_, conn_report::Event::kOpened));
}

bool Connection::should_pump(const Direction &d) const {
    if (!wake_) return true;
    return d.woken_by(wake_->leg == LegId::kClient ? client_ : backend_, wake_->events);
}

void Connection::pump(Clock::time_point now) {
    wants_resume_ = false;
    std::size_t moved = 0;
    if (should_pump(*up_)) moved += up_->pump(kBudget);
    if (should_pump(*down_)) moved += down_->pump(kBudget);
    if (moved > 0) last_activity_ = now;
    if (up_->failed()) {
        finish(conn_report::CloseReason::kRelayError, "client->backend: " + up_->error(), now);
        return;
    }
    if (down_->failed()) {
        finish(conn_report::CloseReason::kRelayError, "backend->client: " + down_->error(), now);
        return;
    }
    if (up_->done() && down_->done()) {
        finish(conn_report::CloseReason::kClosed, "closed", now);
        return;
    }
    wants_resume_ = up_->budget_hit() || down_->budget_hit();
}

std::uint32_t Connection::client_events() const {
    if (!client_.open()) return 0;
    // Kernel relay: only the end matters, once (edge-triggered; errors still come after it).
    if (kernel_) return EPOLLRDHUP | EPOLLET;
    if (relaying_) return up_->events_for(client_) | down_->events_for(client_);
    if (client_tls_ && !client_ready_) return client_.hello_callback_pending() ? 0 : client_want_;
    return 0;
}

std::uint32_t Connection::backend_events() const {
    if (!backend_.open()) return 0;
    if (kernel_) return EPOLLRDHUP | EPOLLET;
    if (relaying_) return up_->events_for(backend_) | down_->events_for(backend_);
    switch (backend_state_) {
        case Backend::kConnecting:
            return EPOLLOUT;
        case Backend::kPreamble:
        case Backend::kHandshake:
            return backend_want_;
        default:
            return 0;
    }
}

void Connection::update_interest() {
    update_leg(client_, LegId::kClient, client_events());
    if (!finished_) update_leg(backend_, LegId::kBackend, backend_events());
}

// Level-triggered: a leg with nothing to wait for is taken out of epoll entirely, so a peer
// that has hung up cannot make epoll report it over and over.
void Connection::update_leg(Leg &leg, LegId id, std::uint32_t events) {
    if (events == 0) {
        if (leg.in_epoll) env_.epoll.remove(leg.fd());
        leg.in_epoll = false;
        leg.events = 0;
        return;
    }
    bool ok = true;
    if (!leg.in_epoll)
        ok = env_.epoll.add(leg.fd(), events, token(id_, id));
    else if (events != leg.events)
        ok = env_.epoll.modify(leg.fd(), events, token(id_, id));
    if (!ok) {
        finish(conn_report::CloseReason::kInternal,
               "epoll_ctl failed for the " + leg.name() + " socket", Clock::now());
        return;
    }
    leg.in_epoll = true;
    leg.events = events;
}

std::uint64_t Connection::since_start_us(Clock::time_point now) const {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - started_).count();
    return us > 0 ? static_cast<std::uint64_t>(us) : 1;  // 0 means "never" in the stats
}

void Connection::finish(conn_report::CloseReason why, const std::string &detail,
                        Clock::time_point now) {
    if (finished_) return;
    finished_ = true;
    wants_resume_ = false;
    stats_.reason = detail;
    stats_.close_reason = why;
    stats_.error = why != conn_report::CloseReason::kClosed;
    stats_.duration_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(now - started_).count();
    stats_.duration_us = since_start_us(now);
    if (up_) {
        stats_.bytes_up += up_->bytes();
        stats_.client_end = up_->source_end();
    }
    if (down_) {
        stats_.bytes_down += down_->bytes();
        stats_.backend_end = down_->source_end();
    }
    if (kernel_) kernel_leave();  // before the fds close
    // No EPOLL_CTL_DEL: closing the last fd of a socket takes it out of epoll, and this process
    // holds the only one (the daemon closes its copy once the handoff is sent; an event that
    // slips in before that carries this connection's id, which is never reused, and is ignored).
    for (Leg *leg : {&client_, &backend_}) {
        leg->in_epoll = false;
        leg->close();
    }
    if (server_) route_.balancer.release(*server_);
    server_.reset();
    if (env_.reports != nullptr)
        env_.reports->send(make_report(stats_, conn_report::Event::kClosed));
    if (env_.access != nullptr)
        env_.access->write(access_json(stats_, std::chrono::system_clock::now()));
}

}  // namespace sni::worker
