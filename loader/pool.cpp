#include "loader/pool.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/config_query.hpp"
#include "loader/metrics_counters.hpp"

namespace sni::loader {

namespace {

// Datagrams read from a worker's channel after it hung up, at most (each up to 32 reports).
constexpr int kMaxReportsAtExit = 1024;

std::string describe_exit(int status) {
    if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return std::string("signal ") + ::strsignal(WTERMSIG(status));
    return "status " + std::to_string(status);
}

long long ms(Pools::Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

config::Result<Pools, std::string> Pools::create(const config::Config &config,
                                                 std::string worker_bin, std::string config_path,
                                                 EventLoop &loop, const log::Logger &log,
                                                 Counters &counters, std::uint64_t generation) {
    const int tfd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tfd < 0) return config::unexpected(std::string("timerfd_create: ") + std::strerror(errno));
    Pools p(loop, log, counters, UniqueFd(tfd));
    p.reports_ = ReportTable(config.routes.size());
    p.worker_bin_ = std::move(worker_bin);
    p.config_path_ = std::move(config_path);
    p.generation_ = generation;
    p.next_channel_id_ = (generation << 32) | 1;
    for (const auto &pc : config.pools) {
        Pool pool;
        pool.name = pc.name;
        pool.user = pc.user;
        const unsigned n = std::max(1u, config::effective_workers(pc));
        pool.workers.resize(n);
        for (unsigned i = 0; i < n; ++i) pool.workers[i].index = i;
        p.pools_.push_back(std::move(pool));
    }
    for (const auto &route : config.routes) {
        std::uint32_t idx = 0;
        for (std::uint32_t i = 0; i < config.pools.size(); ++i)
            if (config.pools[i].name == route.pool) idx = i;
        p.route_pool_.push_back(idx);
        p.route_names_.push_back(route.name);
    }
    for (const auto &listener : config.listeners) p.listener_names_.push_back(listener.name);
    return p;
}

Pools::~Pools() = default;

config::Result<bool, std::string> Pools::start_all() {
    for (std::uint32_t p = 0; p < pools_.size(); ++p) {
        if (pools_[p].tickets) continue;
        auto ring = tickets::KeyRing::create(ticket_rotation_, Clock::now());
        if (!ring) return config::unexpected("pool " + pools_[p].name + ": " + ring.error());
        pools_[p].tickets = std::move(ring).value();
    }
    arm_timer();
    for (std::uint32_t p = 0; p < pools_.size(); ++p) {
        for (std::uint32_t w = 0; w < pools_[p].workers.size(); ++w) {
            auto r = start(p, w);
            if (!r) return r;
        }
    }
    return true;
}

config::Result<bool, std::string> Pools::start(std::uint32_t pool, std::uint32_t worker) {
    Worker &w = pools_[pool].workers[worker];
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return config::unexpected(std::string("socketpair: ") + std::strerror(errno));
    UniqueFd ours(sv[0]);
    UniqueFd theirs(sv[1]);
    handoff::configure_channel(ours.get());
    handoff::configure_channel(theirs.get());
    const int flags = ::fcntl(ours.get(), F_GETFL);
    ::fcntl(ours.get(), F_SETFL, flags | O_NONBLOCK);

    // Workers log at the daemon's level (--log-level applies to the whole service).
    SpawnSpec spec{worker_bin_,
                   {"--pool", pools_[pool].name, "--config", config_path_, "--log-level",
                    std::string(log::level_name(log_->min_level()))},
                   {},
                   {}};
    // Workers never keep root: they open their pool's keys, then become the pool's user.
    if (::geteuid() == 0 && !pools_[pool].user.empty()) {
        spec.args.push_back("--user");
        spec.args.push_back(pools_[pool].user);
    }
    spec.inherit = inherit_fds_;
    if (!inherit_env_.empty()) spec.env.push_back(inherit_env_);
    auto pid = spawn_worker(spec, theirs.get());
    if (!pid) {
        ++counters_->worker_spawn_errors;
        return config::unexpected(std::move(pid).error());
    }
    theirs.reset();  // the child has its copy

    w.pid = pid.value();
    w.channel = std::move(ours);
    w.channel_id = next_channel_id_++;
    w.want_out = false;
    w.started = Clock::now();
    w.restart_at.reset();
    channels_[w.channel_id] = {pool, worker};
    loop_->add(w.channel.get(), EPOLLIN | EPOLLRDHUP, Token{TokenKind::kChannel, w.channel_id});
    w.keys_pending = pools_[pool].tickets.has_value();
    w.write_shut = false;
    ++counters_->worker_starts;
    log_->info("worker started", {log::kv("pool", pools_[pool].name), log::kv("worker", worker),
                                  log::kv("pid", w.pid)});
    flush(pool, worker);  // the ticket keys, first thing on the channel
    return true;
}

std::optional<std::uint32_t> Pools::pick(std::uint32_t pool) {
    Pool &p = pools_[pool];
    const std::size_t n = p.workers.size();
    for (std::size_t i = 0; i < n; ++i) {
        const std::size_t idx = (p.next + i) % n;
        const Worker &w = p.workers[idx];
        if (w.pid > 0 && w.channel && w.queue.size() < kMaxQueuePerWorker) {
            p.next = (idx + 1) % n;
            return static_cast<std::uint32_t>(idx);
        }
    }
    return std::nullopt;  // everyone alive is full, or nobody is alive
}

void Pools::dispatch(std::uint32_t pool, PendingHandoff h) {
    const auto outcome = [&](std::uint64_t Counters::*member) {
        ++(counters_->*member);
        counters_->obs.count(h.meta.listener_id, h.meta.route_id, outcome_name(member));
    };
    if (stopping_) {
        outcome(&Counters::shutdown);
        return;
    }
    const auto idx = pick(pool);
    if (!idx) {
        bool any_alive = false;
        for (const Worker &w : pools_[pool].workers) any_alive |= (w.pid > 0 && w.channel.valid());
        if (any_alive) {
            outcome(&Counters::handoff_overflow);
            log_->warn("handoff queue full, connection closed",
                       {log::kv("pool", pools_[pool].name), log::kv("conn", h.meta.conn_id)});
        } else {
            outcome(&Counters::no_worker);
            log_->warn("no worker running, connection closed",
                       {log::kv("pool", pools_[pool].name), log::kv("conn", h.meta.conn_id)});
        }
        return;  // h.conn closes here
    }
    Worker &w = pools_[pool].workers[*idx];
    if (w.queue.empty() && !retiring_) {
        // Nothing waits before it: sent from here, without a queue node per connection.
        if (!send_keys(pool, w)) {
            w.queue.push_back(std::move(h));
            flush(pool, *idx);  // the channel is gone: flush takes the worker down
            return;
        }
        if (!w.keys_pending && w.channel) {
            const Sent sent = send_one(pool, *idx, h);
            if (sent == Sent::kSent || sent == Sent::kFailed) {
                update_interest(w);  // as flush does: keys just sent need no EPOLLOUT any more
                return;              // h.conn closes here
            }
            w.queue.push_back(std::move(h));
            if (sent == Sent::kPeerGone)
                worker_down(pool, *idx);  // h goes to another worker with the queue
            else
                update_interest(w);  // wait for EPOLLOUT
            return;
        }
    }
    w.queue.push_back(std::move(h));
    flush(pool, *idx);
}

Pools::Sent Pools::send_one(std::uint32_t pool, std::uint32_t worker, const PendingHandoff &h) {
    Worker &w = pools_[pool].workers[worker];
    const auto r = handoff::send_handoff(w.channel.get(), h.meta, h.hello, h.conn.get());
    switch (r.status) {
        case handoff::SendStatus::kSent:
            reports_.on_handed(
                pool, worker,
                HandedConn{h.meta.conn_id, make_addr_pair(h.meta.client, h.meta.local),
                           h.meta.route_id, h.meta.listener_id});
            ++counters_->handed_off;
            counters_->obs.count(h.meta.listener_id, h.meta.route_id, "handed_off");
            counters_->obs.handoff.observe_us(us_since(h.meta.accepted_ns));
            log_->debug("handed off",
                        {log::kv("conn", h.meta.conn_id), log::kv("pool", pools_[pool].name),
                         log::kv("worker", worker), log::kv("route", h.meta.route_id)});
            return Sent::kSent;
        case handoff::SendStatus::kWouldBlock:
            return Sent::kWouldBlock;
        case handoff::SendStatus::kPeerGone:
            log_->warn("worker channel closed", {log::kv("pool", pools_[pool].name),
                                                 log::kv("worker", worker), log::kv("pid", w.pid)});
            return Sent::kPeerGone;
        case handoff::SendStatus::kError:
            break;
    }
    ++counters_->handoff_error;
    counters_->obs.count(h.meta.listener_id, h.meta.route_id, "handoff_error");
    log_->error("handoff failed",
                {log::kv("conn", h.meta.conn_id), log::kv("pool", pools_[pool].name),
                 log::kv("error", std::strerror(r.err))});
    return Sent::kFailed;
}

// Sends the pool's keys if they are pending. False when the worker's channel is gone.
bool Pools::send_keys(std::uint32_t pool, Worker &w) {
    if (!w.keys_pending || !w.channel || !pools_[pool].tickets) return true;
    switch (tickets::send_keys(w.channel.get(), pools_[pool].tickets->keys())) {
        case tickets::SendStatus::kSent:
            w.keys_pending = false;
            log_->debug("ticket keys sent", {log::kv("pool", pools_[pool].name),
                                             log::kv("worker", w.index), log::kv("pid", w.pid)});
            return true;
        case tickets::SendStatus::kWouldBlock:
            return true;
        case tickets::SendStatus::kPeerGone:
            return false;
        case tickets::SendStatus::kError:
            log_->error("cannot send ticket keys",
                        {log::kv("pool", pools_[pool].name), log::kv("worker", w.index),
                         log::kv("error", std::strerror(errno))});
            w.keys_pending = false;
            return true;
    }
    return true;
}

void Pools::flush(std::uint32_t pool, std::uint32_t worker) {
    Worker &w = pools_[pool].workers[worker];
    if (!send_keys(pool, w)) {
        log_->warn("worker channel closed", {log::kv("pool", pools_[pool].name),
                                             log::kv("worker", worker), log::kv("pid", w.pid)});
        worker_down(pool, worker);
        return;
    }
    while (!w.keys_pending && !w.queue.empty() && w.channel) {
        const Sent sent = send_one(pool, worker, w.queue.front());
        if (sent == Sent::kWouldBlock) break;
        if (sent == Sent::kPeerGone) {
            worker_down(pool, worker);
            return;
        }
        w.queue.pop_front();  // sent or failed: closes our copy of the connection
    }
    if (retiring_ && w.queue.empty()) {
        // Everything queued was sent: the worker sees end-of-file, takes no more handoffs and
        // drains, while its connection reports still reach us until it exits.
        if (!w.write_shut && w.channel) ::shutdown(w.channel.get(), SHUT_WR);
        w.write_shut = true;
        update_interest(w);
        return;
    }
    update_interest(w);
}

void Pools::update_interest(Worker &w) {
    if (!w.channel) return;
    const bool want = !w.queue.empty() || w.keys_pending;
    if (want == w.want_out) return;
    w.want_out = want;
    loop_->modify(w.channel.get(), EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0u),
                  Token{TokenKind::kChannel, w.channel_id});
}

void Pools::on_channel_event(std::uint64_t channel_id, std::uint32_t events) {
    const auto it = channels_.find(channel_id);
    if (it == channels_.end()) return;
    const auto [pool, worker] = it->second;
    Worker &w = pools_[pool].workers[worker];
    // Reports first: a worker's last "closed" reports arrive just before its channel closes,
    // so a channel that hung up is read to the end (worker_down); otherwise one per wake-up.
    if ((events & EPOLLIN) && !(events & (EPOLLHUP | EPOLLRDHUP))) read_reports(pool, worker);
    if (!w.channel) return;
    if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        log_->warn("worker channel closed", {log::kv("pool", pools_[pool].name),
                                             log::kv("worker", worker), log::kv("pid", w.pid)});
        worker_down(pool, worker);
        return;
    }
    if (events & EPOLLOUT) flush(pool, worker);
}

// One datagram per wake-up while the worker runs (it sends one per batch of reports): the
// channel is level-triggered, so another queued datagram wakes the next epoll_wait, and the
// usual single one costs no second recvmsg that finds nothing. A channel that hung up is read
// to its end before it is closed (worker_down).
void Pools::read_reports(std::uint32_t pool, std::uint32_t worker, int datagrams) {
    Worker &w = pools_[pool].workers[worker];
    for (int i = 0; i < datagrams; ++i) {
        if (!w.channel) return;
        // Workers send no fds; any that came anyway close with the datagram.
        const auto d = handoff::recv_datagram(w.channel.get(), report_buf_);
        if (!d) {
            // Nothing queued, or the worker's end closed; a truncated one is bad and skipped.
            if (d.error().kind != handoff::RecvError::kTruncated) return;
            reports_.on_malformed();
            continue;
        }
        const std::span<const std::uint8_t> datagram(report_buf_.data(), d->size);
        const auto reports = conn_report::magic_of(datagram) == conn_report::kMagic
                                 ? conn_report::decode_all(datagram)
                                 : std::nullopt;
        if (!reports) {
            reports_.on_malformed();
            continue;
        }
        for (const auto &report : *reports) reports_.on_report(pool, worker, w.pid, report);
    }
}

std::vector<Pools::PoolState> Pools::pool_states() const {
    std::vector<PoolState> out;
    for (std::uint32_t p = 0; p < pools_.size(); ++p) {
        PoolState s;
        s.name = pools_[p].name;
        s.workers = pools_[p].workers.size();
        for (std::uint32_t i = 0; i < pools_[p].workers.size(); ++i) {
            const Worker &w = pools_[p].workers[i];
            if (w.pid <= 0 || !w.channel) continue;
            ++s.running;
            s.ready += reports_.worker_ready(p, i);
        }
        out.push_back(std::move(s));
    }
    return out;
}

void Pools::close_channel(Worker &w) {
    if (!w.channel) return;
    loop_->remove(w.channel.get());
    channels_.erase(w.channel_id);
    w.channel.reset();
    w.want_out = false;
}

// The worker cannot take handoffs any more: its channel is gone. The process is told to stop
// (it is restarted when it has exited) and its queue goes to the other workers.
void Pools::worker_down(std::uint32_t pool, std::uint32_t worker) {
    Worker &w = pools_[pool].workers[worker];
    // Everything the worker sent before it went (bounded: a worker that still sends cannot
    // keep the daemon here).
    if (w.channel) read_reports(pool, worker, kMaxReportsAtExit);
    close_channel(w);
    reports_.worker_gone(pool, worker);
    if (w.pid > 0) ::kill(w.pid, SIGTERM);
    std::deque<PendingHandoff> orphans;
    orphans.swap(w.queue);
    for (auto &h : orphans) dispatch(pool, std::move(h));
}

bool Pools::on_child_exit(pid_t pid, int wait_status) {
    for (std::uint32_t p = 0; p < pools_.size(); ++p) {
        for (std::uint32_t i = 0; i < pools_[p].workers.size(); ++i) {
            Worker &w = pools_[p].workers[i];
            if (w.pid != pid) continue;
            ++counters_->worker_exits;
            w.pid = -1;
            worker_down(p, i);
            if (stopping_ || retiring_) {
                log_->info("worker stopped",
                           {log::kv("pool", pools_[p].name), log::kv("worker", i),
                            log::kv("pid", pid), log::kv("status", describe_exit(wait_status))});
                return true;
            }
            schedule_restart(w, Clock::now());
            log_->warn("worker exited",
                       {log::kv("pool", pools_[p].name), log::kv("worker", i), log::kv("pid", pid),
                        log::kv("status", describe_exit(wait_status)),
                        log::kv("restart_in_ms", ms(*w.restart_at - Clock::now()))});
            return true;
        }
    }
    return false;
}

void Pools::schedule_restart(Worker &w, Clock::time_point now) {
    if (now - w.started >= kStableRun) w.backoff = kFirstBackoff;
    w.restart_at = now + w.backoff;
    w.backoff = std::min<Clock::duration>(w.backoff * 2, kMaxBackoff);
    arm_timer();
}

void Pools::arm_timer() {
    std::optional<Clock::time_point> first;
    for (const Pool &p : pools_) {
        for (const Worker &w : p.workers)
            if (w.restart_at && (!first || *w.restart_at < *first)) first = w.restart_at;
        if (!stopping_ && p.tickets && (!first || p.tickets->next_rotation() < *first))
            first = p.tickets->next_rotation();
    }
    itimerspec spec{};
    if (first) {
        const auto ns =
            std::chrono::duration_cast<std::chrono::nanoseconds>(first->time_since_epoch()).count();
        spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
        spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
        if (spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0) spec.it_value.tv_nsec = 1;
    }
    ::timerfd_settime(timer_.get(), TFD_TIMER_ABSTIME, &spec, nullptr);
}

void Pools::on_timer() {
    std::uint64_t ticks;
    while (::read(timer_.get(), &ticks, sizeof ticks) < 0 && errno == EINTR) {
    }
    if (stopping_ || retiring_) return;
    const auto now = Clock::now();
    rotate_due(now);
    for (std::uint32_t p = 0; p < pools_.size(); ++p) {
        for (std::uint32_t i = 0; i < pools_[p].workers.size(); ++i) {
            Worker &w = pools_[p].workers[i];
            if (!w.restart_at || *w.restart_at > now) continue;
            w.restart_at.reset();
            auto r = start(p, i);
            if (r) ++counters_->obs.worker_restarts;
            if (!r) {
                log_->error("worker restart failed",
                            {log::kv("pool", pools_[p].name), log::kv("worker", i),
                             log::kv("error", r.error())});
                w.started = now;
                schedule_restart(w, now);
            }
        }
    }
    arm_timer();
}

// New ticket keys for every pool whose interval is over, sent to each of its workers.
void Pools::rotate_due(Clock::time_point now) {
    for (std::uint32_t p = 0; p < pools_.size(); ++p) {
        auto &ring = pools_[p].tickets;
        if (!ring || ring->next_rotation() > now) continue;
        if (auto r = ring->rotate(now); !r) {
            log_->error("ticket key rotation failed",
                        {log::kv("pool", pools_[p].name), log::kv("error", r.error())});
            continue;
        }
        log_->info("ticket keys rotated",
                   {log::kv("pool", pools_[p].name), log::kv("next_in_ms", ms(ring->interval()))});
        for (std::uint32_t i = 0; i < pools_[p].workers.size(); ++i) {
            Worker &w = pools_[p].workers[i];
            if (!w.channel) continue;
            w.keys_pending = true;
            flush(p, i);
        }
    }
}

std::vector<pid_t> Pools::stop() {
    stopping_ = true;
    std::vector<pid_t> pids;
    for (Pool &p : pools_) {
        for (Worker &w : p.workers) {
            counters_->shutdown += w.queue.size();
            for (const auto &h : w.queue)
                counters_->obs.count(h.meta.listener_id, h.meta.route_id, "shutdown");
            w.queue.clear();
            close_channel(w);
            w.restart_at.reset();
            if (w.pid > 0) {
                ::kill(w.pid, SIGTERM);
                pids.push_back(w.pid);
            }
        }
    }
    arm_timer();
    return pids;
}

void Pools::adopt_ticket_keys(const Pools &previous) {
    for (Pool &pool : pools_)
        for (const Pool &old : previous.pools_)
            if (old.name == pool.name && old.tickets && !pool.tickets) pool.tickets = old.tickets;
}

void Pools::retire() {
    retiring_ = true;
    for (std::uint32_t p = 0; p < pools_.size(); ++p) {
        for (std::uint32_t i = 0; i < pools_[p].workers.size(); ++i) {
            Worker &w = pools_[p].workers[i];
            w.restart_at.reset();
            w.keys_pending = false;  // a retiring worker gets no more keys
            flush(p, i);             // shuts the channel for writing once the queue is empty
        }
    }
    arm_timer();
}

std::vector<Pools::PoolView> Pools::view() const {
    std::vector<PoolView> out;
    for (const Pool &p : pools_) {
        PoolView v{p.name, p.user, {}};
        for (const Worker &w : p.workers) v.workers.push_back({w.index, w.pid, w.queue.size()});
        out.push_back(std::move(v));
    }
    return out;
}

std::vector<pid_t> Pools::pids() const {
    std::vector<pid_t> out;
    for (const Pool &p : pools_)
        for (const Worker &w : p.workers)
            if (w.pid > 0) out.push_back(w.pid);
    return out;
}

std::size_t Pools::running() const {
    std::size_t n = 0;
    for (const Pool &p : pools_)
        for (const Worker &w : p.workers) n += w.pid > 0;
    return n;
}

void fold_reports(const Pools &pools, std::map<std::string, RouteReports> &into) {
    const auto &routes = pools.reports().routes();
    const auto &names = pools.route_names();
    for (std::size_t r = 0; r < routes.size() && r < names.size(); ++r)
        merge_into(into[names[r]], routes[r]);
}

}  // namespace sni::loader
