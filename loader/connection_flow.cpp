// Daemon: the life of a connection after accept(): classification (userspace peek, or the
// kernel's decision), the policy decision, reading the ClientHello bytes, and the handoff.
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/recv_available.hpp"
#include "common/tls_alert.hpp"
#include "loader/daemon.hpp"
#include "loader/metrics_counters.hpp"

namespace sni::loader {

namespace {

std::uint64_t Counters::*counter_of(Verdict v) {
    switch (v) {
        case Verdict::kRouted:
            return &Counters::routed;
        case Verdict::kDefaultUnknownSni:
            return &Counters::default_unknown_sni;
        case Verdict::kDefaultNoSni:
            return &Counters::default_no_sni;
        case Verdict::kRejectUnknownSni:
            return &Counters::rejected_unknown_sni;
        case Verdict::kRejectNoSni:
            return &Counters::rejected_no_sni;
        case Verdict::kNotTls:
            return &Counters::not_tls;
        case Verdict::kMalformed:
            return &Counters::malformed;
        case Verdict::kTooBig:
            return &Counters::too_big;
    }
    return &Counters::malformed;
}

void set_rcvlowat(Connection &conn, std::uint32_t value) {
    if (conn.rcvlowat == value) return;
    const int v = static_cast<int>(value);
    if (::setsockopt(conn.fd.get(), SOL_SOCKET, SO_RCVLOWAT, &v, sizeof v) == 0)
        conn.rcvlowat = value;
}

// Reads and drops what the client sent (at most `max` bytes, without blocking), so that the
// close that follows is a FIN after our alert rather than a reset for unread data.
void discard_input(int fd, std::size_t max) {
    std::uint8_t buf[4096];
    std::size_t total = 0;
    while (total < max) {
        const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, max - total), MSG_DONTWAIT);
        if (n <= 0) return;
        total += static_cast<std::size_t>(n);
    }
}

}  // namespace

void Daemon::on_connection_event(std::uint64_t id, std::uint32_t events) {
    Connection *conn = conns_.find(id);
    if (conn == nullptr) return;
    const bool hung_up = (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;

    if (conn->state == ConnState::kReading) {
        continue_reading(*conn);
        return;
    }
    if (conn->state == ConnState::kDraining) {
        take_from_kernel(*conn);
        return;
    }
    if (conn->state == ConnState::kDeferred) {
        continue_deferred(*conn);
        return;
    }

    const auto r = userspace_->peek(conn->fd.get(), conn->listener_id, hung_up);
    switch (r.status) {
        case UserspaceClassifier::Status::kNeedMore:
            // Sleep until the whole ClientHello (or at least what is known to be missing) is
            // there, instead of waking up for every segment.
            if (r.need > 0)
                set_rcvlowat(*conn, std::min(r.need, userspace_->cap(conn->listener_id)));
            return;
        case UserspaceClassifier::Status::kPeerClosed:
            close_connection(id, &Counters::closed_early, "closed before ClientHello");
            return;
        case UserspaceClassifier::Status::kError:
            close_connection(id, &Counters::read_error, std::strerror(r.err));
            return;
        case UserspaceClassifier::Status::kFinal:
            break;
    }
    const ch_info &facts = *r.facts;
    std::optional<RouteId> matched;
    if (facts.status == CH_OK && (facts.flags & CH_F_SNI))
        matched = routes_.lookup(conn->listener_id, sni_of(facts));
    decide_and_act(*conn, facts, matched);
}

void Daemon::on_steering_ready() {
    if (!classifier_.bpf) return;
    const auto now = Clock::now();
    // The kept vector's capacity is reused; a nested call (none today) would start empty.
    std::vector<KernelDecision> batch;
    batch.swap(decisions_);
    classifier_.bpf->drain(batch);
    for (const KernelDecision &d : batch) {
        ++counters_.bpf_decisions;
        Connection *conn = conns_.find_by_cookie(d.cookie);
        if (conn == nullptr) {
            classifier_.bpf->park(d, now);  // accept() has not returned this socket yet
            continue;
        }
        if (conn->state != ConnState::kClassifying || !conn->in_steering) continue;
        apply_kernel_decision(*conn, d);
    }
    batch.clear();
    decisions_.swap(batch);
}

void Daemon::apply_kernel_decision(Connection &conn, const KernelDecision &d) {
    if (d.listener_id != conn.listener_id) {
        ++counters_.bpf_listener_mismatch;
        log_.warn("kernel decision for another listener",
                  {log::kv("conn", conn.id), log::kv("kernel_listener", d.listener_id),
                   log::kv("listener", conn.listener_id)});
    }
    if (d.facts.status == CH_NEED_MORE) {
        // The kernel's first look saw part of the ClientHello; it now passes every byte on
        // and the parse finishes here, on the bytes read from the socket.
        // Also how a client that left before its ClientHello is reported: the read below
        // finds the end of the stream (or the reset) and closes without touching epoll.
        ++counters_.bpf_deferred;
        const std::uint64_t id = conn.id;
        conn.state = ConnState::kDeferred;
        conn.hello.clear();
        continue_deferred(conn);
        Connection *open = conns_.find(id);
        if (open != nullptr && open->state == ConnState::kDeferred)
            watch(*open, EPOLLIN | EPOLLRDHUP);
        return;
    }
    std::optional<RouteId> matched;
    if (d.ktime_ns < route_swap_ns_) {
        // Decided with the table of an earlier generation: its route ids are not ours.
        if (d.facts.status == CH_OK && (d.facts.flags & CH_F_SNI))
            matched = routes_.lookup(conn.listener_id, sni_of(d.facts));
    } else if (d.route_id >= 0 && static_cast<std::size_t>(d.route_id) < config_.routes.size()) {
        matched = static_cast<RouteId>(d.route_id);
    }
    decide_and_act(conn, d.facts, matched);
}

// BPF path, deferred: read (not peek: the bytes sit in the psock, which a peek does not
// drain) and parse what has arrived, until the ClientHello is whole.
void Daemon::continue_deferred(Connection &conn) {
    const RecvAvailable got = recv_available(conn.fd.get(), conn.hello, handoff::kMaxHelloBytes);
    if (got.error != 0) {
        close_connection(conn.id, &Counters::read_error, std::strerror(got.error));
        return;
    }
    const ch_info &facts = userspace_->parse(conn.listener_id, conn.hello);
    if (facts.status == CH_NEED_MORE) {
        if (got.eof)
            close_connection(conn.id, &Counters::closed_early, "closed before ClientHello");
        return;
    }
    std::optional<RouteId> matched;
    if (facts.status == CH_OK && (facts.flags & CH_F_SNI))
        matched = routes_.lookup(conn.listener_id, sni_of(facts));
    decide_and_act(conn, facts, matched);
}

void Daemon::decide_and_act(Connection &conn, const ch_info &facts,
                            std::optional<RouteId> matched) {
    const Decision decision = decide(policies_[conn.listener_id], facts, matched);
    const std::uint64_t id = conn.id;
    counters_.obs.classification.observe_us(us_since(conn.accepted_ns));
    if (facts.status == CH_NOT_TLS && facts.reason < CH_R__COUNT)
        ++counters_.not_tls_by_reason[facts.reason];
    if (facts.status == CH_MALFORMED && facts.reason < CH_R__COUNT)
        ++counters_.malformed_by_reason[facts.reason];

    if (decision.hands_off() &&
        (route_drained_[decision.route] || listener_drained_[conn.listener_id])) {
        // sni-ctl drain: the route takes no new connections.
        discard_input(conn.fd.get(), config_.listeners[conn.listener_id].max_client_hello);
        send_fatal_alert(conn.fd.get(), AlertDescription::kUnrecognizedName);
        close_connection(id, &Counters::drained, "route drained");
        return;
    }
    if (!decision.hands_off()) {
        discard_input(conn.fd.get(), config_.listeners[conn.listener_id].max_client_hello);
        if (decision.alert) send_fatal_alert(conn.fd.get(), *decision.alert);
        if (log_.enabled(log::Level::kDebug) && peer_log_limit_.allow(Clock::now()))
            log_.debug(
                "connection rejected",
                {log::kv("conn", id), log::kv("verdict", verdict_name(decision.verdict)),
                 log::kv("status", status_name(facts.status)),
                 log::kv("reason", reason_name(facts.reason)), log::kv("sni", sni_of(facts))});
        close_connection(id, counter_of(decision.verdict), verdict_name(decision.verdict));
        return;
    }
    ++(counters_.*counter_of(decision.verdict));
    conn.decision = decision;
    conn.facts = facts;
    if (conn.state != ConnState::kDeferred) conn.hello.clear();  // deferred: already read
    if (conn.in_steering) {
        take_from_kernel(conn);
        return;
    }
    conn.state = ConnState::kReading;
    conn.hello.reserve(facts.record_bytes);
    continue_reading(conn);
}

// A passthrough connection whose worker relays in the kernel keeps its psock from accept to
// close: the worker pairs the socket in the same SOCKHASH, so no byte can be dropped with a psock
// in between (docs/architecture.md, "One SOCKHASH").
bool Daemon::stays_in_kernel(const Connection &conn) const {
    return config_.passthrough_relay != config::PassthroughRelay::kSplice &&
           conn.decision.hands_off() &&
           config_.routes[conn.decision.route].mode == config::RouteMode::kPassthrough;
}

// BPF path: read everything the kernel passed to the socket (the ClientHello and whatever
// followed it) while it is still in the map, take it out (or leave it there: stays_in_kernel),
// then hand off.
void Daemon::take_from_kernel(Connection &conn) {
    const std::uint64_t id = conn.id;
    KernelSteering &steering = classifier_.bpf->steering();
    const bool keep = stays_in_kernel(conn);
    const auto drained = keep ? steering.read_and_keep(conn.fd.get(), conn.cookie,
                                                       conn.facts.record_bytes, conn.hello)
                              : steering.drain(conn.fd.get(), conn.cookie, conn.hello);
    if (drained.status == KernelSteering::Drain::kWaiting) {
        if (conn.hello.size() > handoff::kMaxHelloBytes) {
            // The client keeps sending without waiting for an answer, more than a handoff
            // carries: the bytes queued in the kernel would be lost by letting go, so the
            // connection ends now, with its reason, instead of at client_hello_timeout.
            close_connection(id, &Counters::handoff_error, "too many bytes after the ClientHello");
            return;
        }
        // The verdict has not queued the bytes yet: wait for them (level-triggered EPOLLIN).
        if (conn.state != ConnState::kDraining) {
            conn.state = ConnState::kDraining;
            watch(conn, EPOLLIN | EPOLLRDHUP);
        }
        return;
    }
    conn.in_steering = false;
    conn.in_relay_map = keep;
    if (drained.status == KernelSteering::Drain::kLost) {
        if (peer_log_limit_.allow(Clock::now()))
            log_.warn("bytes lost leaving the kernel classifier, connection closed",
                      {log::kv("conn", id), log::kv("error", drained.error)});
        close_connection(id, &Counters::bpf_handoff_loss, "bytes lost in the psock");
        return;
    }
    if (conn.hello.size() < conn.facts.record_bytes) {
        close_connection(id, &Counters::closed_early, "ClientHello bytes missing");
        return;
    }
    if (conn.hello.size() > handoff::kMaxHelloBytes) {
        close_connection(id, &Counters::handoff_error, "too many bytes after the ClientHello");
        return;
    }
    hand_off(id);
}

// Reads exactly record_bytes: the records that carry the ClientHello. Whatever follows them
// stays in the socket for the worker.
void Daemon::continue_reading(Connection &conn) {
    const std::uint32_t want = conn.facts.record_bytes;
    if (want == 0 || want > CH_MAX_CAP) {
        close_connection(conn.id, &Counters::malformed, "bad record_bytes");
        return;
    }
    switch (recv_exactly(conn.fd.get(), conn.hello, want)) {
        case RecvExactly::kDone:
            break;
        case RecvExactly::kEof:
            close_connection(conn.id, &Counters::closed_early, "closed while reading ClientHello");
            return;
        case RecvExactly::kWouldBlock:
            // Not all there yet (the peek saw them, so this is unexpected): wait for them.
            set_rcvlowat(conn, 1);
            watch(conn, EPOLLIN | EPOLLRDHUP);
            return;
        case RecvExactly::kError:
            close_connection(conn.id, &Counters::read_error, std::strerror(errno));
            return;
    }
    hand_off(conn.id);
}

void Daemon::hand_off(std::uint64_t id) {
    Connection conn = conns_.take(id);
    if (!conn.fd) return;
    if (conn.watching != 0) loop_.remove(conn.fd.get());
    set_rcvlowat(conn, 1);  // the worker must see every byte as soon as it arrives

    PendingHandoff h;
    h.meta.conn_id = conn.id;
    h.meta.cookie = conn.cookie;
    h.meta.accepted_ns = conn.accepted_ns;
    h.meta.route_id = conn.decision.route;
    h.meta.listener_id = conn.listener_id;
    h.meta.outcome = conn.decision.outcome();
    h.meta.classifier = classifier_.kind;
    h.meta.client = conn.client;
    h.meta.client_len = conn.client_len;
    h.meta.local = conn.local;
    h.meta.local_len = conn.local_len;
    h.meta.facts = conn.facts;
    h.meta.in_relay_map = conn.in_relay_map;
    h.meta.nonblocking = true;  // accept4(SOCK_NONBLOCK)
    h.hello = std::move(conn.hello);
    h.conn = std::move(conn.fd);
    if (log_.enabled(log::Level::kDebug))
        log_.debug("classified",
                   {log::kv("conn", id), log::kv("verdict", verdict_name(conn.decision.verdict)),
                    log::kv("route", config_.routes[conn.decision.route].name),
                    log::kv("sni", sni_of(conn.facts)), log::kv("bytes", h.hello.size())});
    const std::string &route = config_.routes[conn.decision.route].name;
    ++route_handed_[route];
    pools_->dispatch(pools_->pool_of_route(conn.decision.route), std::move(h));
}

void Daemon::close_connection(std::uint64_t id, std::uint64_t Counters::*counter,
                              std::string_view reason) {
    Connection conn = conns_.take(id);
    if (!conn.fd) return;
    if (conn.watching != 0) loop_.remove(conn.fd.get());
    if (conn.in_steering && classifier_.bpf) classifier_.bpf->release(conn.cookie);
    ++(counters_.*counter);
    const bool routed = conn.decision.hands_off();  // the default Decision does not
    counters_.obs.count(conn.listener_id, routed ? std::int64_t(conn.decision.route) : kNoRoute,
                        outcome_name(counter));
    if (log_.enabled(log::Level::kDebug) && peer_log_limit_.allow(Clock::now()))
        log_.debug("connection closed", {log::kv("conn", id), log::kv("reason", reason)});
    // conn.fd closes here
}

void Daemon::on_listener_timer(std::uint32_t listener_id) {
    if (listener_id >= deadlines_.size()) return;
    for (const auto id : deadlines_[listener_id].expire(Clock::now()))
        if (conns_.find(id) != nullptr)
            close_connection(id, &Counters::timeout, "no ClientHello within client_hello_timeout");
}

}  // namespace sni::loader
