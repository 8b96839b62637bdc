#include "workers/worker.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>

#include "common/conn_report.hpp"

namespace sni::worker {

namespace {

constexpr std::uint64_t kChannelToken = ~std::uint64_t(0);
constexpr std::uint64_t kSignalToken = ~std::uint64_t(0) - 1;

}  // namespace

Worker::Worker(const log::Logger &log, const AccessLogSink *access,
               std::vector<std::unique_ptr<RouteRuntime>> routes, Epoll epoll, int channel,
               UniqueFd signal_fd, std::vector<std::string> listeners)
    : log_(log),
      routes_(std::move(routes)),
      epoll_(std::move(epoll)),
      channel_(channel),
      signal_fd_(std::move(signal_fd)),
      reports_(channel),
      listeners_(std::move(listeners)),
      env_{epoll_, prefix_, log_, access, &reports_, &listeners_} {}

int Worker::run() {
    if (!prefix_.ok()) {
        log_.error("cannot create the prefix BIO method");
        return 1;
    }
    if (!epoll_.add(channel_, EPOLLIN, kChannelToken) ||
        !epoll_.add(signal_fd_.get(), EPOLLIN, kSignalToken)) {
        log_.error("epoll_ctl failed", {log::kv("error", std::strerror(errno))});
        return 1;
    }
    health_ = std::make_unique<HealthChecks>(epoll_, log_, reports_, routes_, Clock::now());
    // The daemon counts this worker as live (readiness) from this report on.
    conn_report::Report ready;
    ready.event = conn_report::Event::kReady;
    reports_.send(ready);
    health_->report_all();
    reports_.flush();
    std::vector<epoll_event> events(256);
    for (;;) {
        Clock::time_point now = Clock::now();
        if (!taking_ && conns_.empty()) break;
        std::optional<Clock::time_point> wake = timers_.next();
        if (drain_deadline_ && (!wake || *drain_deadline_ < *wake)) wake = drain_deadline_;
        if (const auto h = health_->next(); h && (!wake || *h < *wake)) wake = h;
        if (const auto r = reports_.next_flush(); r && (!wake || *r < *wake)) wake = r;
        const int timeout = ready_.empty() ? timeout_until(wake, now) : 0;
        const int n = epoll_.wait(events, timeout);
        now = Clock::now();
        for (int i = 0; i < n; ++i) dispatch(events[i], now);
        run_timers(now);
        health_->on_timer(now);
        run_ready(now);
        if (drain_deadline_ && now >= *drain_deadline_) abort_all("worker shutdown", now);
        reports_.flush_due(now);
    }
    reports_.flush();
    log_.info("worker stopped", {log::kv("pid", ::getpid())});
    return 0;
}

void Worker::dispatch(const epoll_event &ev, Clock::time_point now) {
    const std::uint64_t token = ev.data.u64;
    if (token == kChannelToken) {
        on_channel(now);
        return;
    }
    if (token == kSignalToken) {
        on_signal(now);
        return;
    }
    if (health_->owns(token)) {
        health_->on_event(token, ev.events, now);
        return;
    }
    const auto it = conns_.find(token >> 1);
    if (it == conns_.end()) return;  // closed earlier in this batch
    Connection &conn = *it->second;
    conn.on_event(static_cast<LegId>(token & 1), ev.events, now);
    after(conn);
}

// One datagram per wake-up: the channel is level-triggered, so another one queued wakes the
// next epoll_wait, and the usual single handoff costs no extra recvmsg that finds nothing.
void Worker::on_channel(Clock::time_point now) {
    if (!taking_) return;
    // The channel carries handoffs and ticket keys: dispatch on the magic.
    auto d = handoff::recv_datagram(channel_, scratch_);
    if (d && conn_report::magic_of({scratch_.data(), d->size}) == tickets::kMagic) {
        on_ticket_keys(d->size);  // an fd wrongly attached to it closes with `d`
        return;
    }
    auto r = handoff::parse_handoff(std::move(d), scratch_);
    if (r) {
        accept(std::move(r).value(), now);
        return;
    }
    const auto &e = r.error();
    switch (e.kind) {
        case handoff::RecvError::kWouldBlock:
            return;
        case handoff::RecvError::kClosed:
            stop_taking("channel closed", now);
            return;
        case handoff::RecvError::kSystem:
            log_.error("handoff channel failed", {log::kv("detail", e.detail)});
            stop_taking("channel failed", now);
            return;
        default:  // truncated or malformed: dropped, its fds closed
            log_.error("bad handoff dropped", {log::kv("error", handoff::recv_error_name(e.kind)),
                                               log::kv("detail", e.detail)});
            return;
    }
}

void Worker::on_ticket_keys(std::size_t size) {
    auto keys = tickets::decode({scratch_.data(), size});
    if (!keys) {
        log_.error("bad ticket key message dropped", {log::kv("error", keys.error())});
        return;
    }
    const std::size_t n = keys->size();
    char name[9];
    const auto &first = keys->front().name;
    std::snprintf(name, sizeof name, "%02x%02x%02x%02x", first[0], first[1], first[2], first[3]);
    tickets_.set_keys(std::move(keys).value());
    std::size_t contexts = 0;
    for (const auto &r : routes_) {
        if (!r || !r->server_tls || !r->route->tls || !r->route->tls->session_tickets) continue;
        tickets_.attach(r->server_tls->ctx());
        ++contexts;
    }
    log_.info("ticket keys installed",
              {log::kv("keys", n), log::kv("current", name), log::kv("routes", contexts)});
}

void Worker::on_signal(Clock::time_point now) {
    signalfd_siginfo info;
    while (::read(signal_fd_.get(), &info, sizeof info) == sizeof info) {
        const int sig = static_cast<int>(info.ssi_signo);
        if (sig != SIGTERM && sig != SIGINT) continue;
        if (drain_deadline_) {
            log_.info("second stop signal: closing every connection now");
            abort_all("worker shutdown", now);
            return;
        }
        log_.info("stopping",
                  {log::kv("signal", ::sigabbrev_np(sig)), log::kv("connections", conns_.size())});
        stop_taking("signal", now);
        drain_deadline_ = now + kDrainGrace;
    }
}

void Worker::stop_taking(const char *why, Clock::time_point /*now*/) {
    if (!taking_) return;
    taking_ = false;
    epoll_.remove(channel_);
    log_.info("no more handoffs", {log::kv("why", why), log::kv("connections", conns_.size())});
}

void Worker::abort_all(const char *reason, Clock::time_point now) {
    for (auto &[id, conn] : conns_) conn->abort(reason, now);
    conns_.clear();
    ready_.clear();
    drain_deadline_.reset();
    taking_ = false;
}

void Worker::accept(handoff::Received received, Clock::time_point now) {
    const handoff::Handoff &h = received.handoff;
    if (h.route_id >= routes_.size() || !routes_[h.route_id]) {
        log_.error("handoff for a route this worker does not serve",
                   {log::kv("conn", h.conn_id), log::kv("route_id", h.route_id)});
        return;  // closes the connection
    }
    const std::uint64_t id = next_id_++;
    auto conn = std::make_unique<Connection>(env_, *routes_[h.route_id], std::move(received), id);
    Connection &ref = *conn;
    conns_.emplace(id, std::move(conn));
    ref.start(now);
    after(ref);
}

void Worker::after(Connection &conn) {
    if (conn.finished()) {
        conns_.erase(conn.id());
        return;
    }
    if (conn.wants_resume()) ready_.push_back(conn.id());
    const Clock::time_point d = conn.deadline();
    if (!conn.queued_timer || d < *conn.queued_timer) {
        timers_.schedule(d, conn.id());
        conn.queued_timer = d;
    }
}

void Worker::run_timers(Clock::time_point now) {
    for (const auto &[when, id] : timers_.pop_due(now)) {
        const auto it = conns_.find(id);
        if (it == conns_.end()) continue;
        Connection &conn = *it->second;
        if (conn.queued_timer == when) conn.queued_timer.reset();
        conn.on_timer(now);
        after(conn);
    }
}

void Worker::run_ready(Clock::time_point now) {
    std::vector<std::uint64_t> ready;
    ready.swap(ready_);
    std::sort(ready.begin(), ready.end());
    ready.erase(std::unique(ready.begin(), ready.end()), ready.end());
    for (const std::uint64_t id : ready) {
        const auto it = conns_.find(id);
        if (it == conns_.end() || !it->second->wants_resume()) continue;
        Connection &conn = *it->second;
        conn.resume(now);
        after(conn);
    }
}

}  // namespace sni::worker
