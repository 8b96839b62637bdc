#include "loader/daemon.hpp"

#include <fcntl.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <thread>

#include "common/config_enums.hpp"
#include "loader/sd_notify.hpp"
#include "loader/signals.hpp"

namespace sni::loader {

namespace {

// After the drain deadline workers get SIGTERM (sni-worker then closes what is left within its
// own 2 s grace); whoever still runs this long after that is killed.
constexpr auto kShutdownGrace = std::chrono::seconds(4);

config::Result<UniqueFd, std::string> periodic_timer(std::chrono::milliseconds every) {
    UniqueFd fd(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    if (!fd) return config::unexpected(std::string("timerfd_create: ") + std::strerror(errno));
    itimerspec spec{};
    spec.it_interval.tv_sec = every.count() / 1000;
    spec.it_interval.tv_nsec = (every.count() % 1000) * 1000000;
    spec.it_value = spec.it_interval;
    ::timerfd_settime(fd.get(), 0, &spec, nullptr);
    return fd;
}

}  // namespace

Daemon::Daemon(config::Config config, DaemonSettings settings, const log::Logger &log,
               EventLoop loop)
    : log_(log),
      config_(std::move(config)),
      settings_(std::move(settings)),
      loop_(std::move(loop)),
      routes_(config_) {}

Daemon::~Daemon() = default;

config::Result<std::unique_ptr<Daemon>, std::string> Daemon::create(config::Config config,
                                                                    DaemonSettings settings,
                                                                    const log::Logger &log) {
    auto loop = EventLoop::create();
    if (!loop) return config::unexpected(std::move(loop).error());
    std::unique_ptr<Daemon> d(
        new Daemon(std::move(config), std::move(settings), log, std::move(loop).value()));
    auto ok = d->setup();
    if (!ok) return config::unexpected(std::move(ok).error());
    return d;
}

config::Result<bool, std::string> Daemon::setup() {
    for (std::uint32_t id = 0; id < config_.listeners.size(); ++id) {
        const auto &l = config_.listeners[id];
        policies_.push_back(
            ListenerPolicy{l.require_sni, l.unknown_sni, routes_.default_route(id)});
        auto fifo = DeadlineFifo::create(l.client_hello_timeout);
        if (!fifo) return config::unexpected(std::move(fifo).error());
        deadlines_.push_back(std::move(fifo).value());
    }

    auto sig = open_signalfd();
    if (!sig) return config::unexpected(std::move(sig).error());
    signal_fd_ = std::move(sig).value();
    auto hk = periodic_timer(std::chrono::milliseconds(1000));
    if (!hk) return config::unexpected(std::move(hk).error());
    housekeeping_fd_ = std::move(hk).value();
    reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!reserve_fd_)
        return config::unexpected(std::string("open /dev/null: ") + std::strerror(errno));

    auto bound = bind_listeners(config_);
    if (!bound) return config::unexpected(std::move(bound).error());
    sockets_ = std::move(bound).value();
    socket_paused_.assign(sockets_.size(), false);

    auto choice = choose_classifier(settings_.classifier, config_, sockets_, routes_);
    if (!choice) return config::unexpected(std::move(choice).error());
    classifier_ = std::move(choice).value();
    log_.info("classifier selected",
              {log::kv("classifier", handoff::classifier_name(classifier_.kind)),
               log::kv("requested", config::to_string(settings_.classifier)),
               log::kv("why", classifier_.why)});
    // Also on the BPF path: for the sockets the kernel did not take (see KernelSteering::owns).
    userspace_ = std::make_unique<UserspaceClassifier>(config_);

    auto pools = Pools::create(config_, settings_.worker_bin, settings_.snapshot.path(), loop_,
                               log_, counters_, generation_);
    if (!pools) return config::unexpected(std::move(pools).error());
    pools_ = std::make_unique<Pools>(std::move(pools).value());
    if (config_.passthrough_relay == config::PassthroughRelay::kSockmap && !classifier_.bpf)
        return config::unexpected(
            "passthrough_relay: sockmap needs the BPF classifier, which is not running (" +
            classifier_.why + ")");
    share_relay_maps(*pools_, config_.passthrough_relay);
    if (auto started = pools_->start_all(); !started) {
        pools_->stop();
        reap_children();
        return config::unexpected("starting workers: " + started.error());
    }

    auto check = [](int err, const char *what) -> config::Result<bool, std::string> {
        if (err != 0) return config::unexpected(std::string(what) + ": " + std::strerror(err));
        return true;
    };
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
        auto r = check(loop_.add(sockets_[i].fd.get(), EPOLLIN, Token{TokenKind::kListener, i}),
                       "epoll add listener");
        if (!r) return r;
    }
    for (std::uint32_t id = 0; id < deadlines_.size(); ++id) {
        auto r =
            check(loop_.add(deadlines_[id].fd(), EPOLLIN, Token{TokenKind::kListenerTimer, id}),
                  "epoll add timer");
        if (!r) return r;
    }
    if (auto r = check(loop_.add(signal_fd_.get(), EPOLLIN, Token{TokenKind::kSignal}),
                       "epoll add signalfd");
        !r)
        return r;
    if (auto r = check(loop_.add(housekeeping_fd_.get(), EPOLLIN, Token{TokenKind::kHousekeeping}),
                       "epoll add timer");
        !r)
        return r;
    if (auto r = check(loop_.add(pools_->timer_fd(), EPOLLIN,
                                 Token{TokenKind::kPoolTimer, pools_->generation()}),
                       "epoll add timer");
        !r)
        return r;
    if (classifier_.bpf) {
        if (auto r =
                check(loop_.add(classifier_.bpf->event_fd(), EPOLLIN, Token{TokenKind::kSteering}),
                      "epoll add ring buffer");
            !r)
            return r;
    }

    if (auto r = start_metrics_endpoint(); !r) return r;
    ktls_ = probe_ktls();
    route_drained_.assign(config_.routes.size(), false);
    listener_drained_.assign(config_.listeners.size(), false);
    auto control = ControlServer::open(
        config_.control.socket, loop_, log_,
        [this](const control::Request &request) { return handle_control(request); });
    if (!control) return config::unexpected(std::move(control).error());
    control_ = std::make_unique<ControlServer>(std::move(control).value());
    log_.info("control socket", {log::kv("path", control_->path())});

    if (settings_.watch) {
        auto w = ConfigWatch::create(watched_files(settings_.config_path, config_),
                                     std::chrono::milliseconds(500));
        if (!w) return config::unexpected("--watch: " + w.error());
        watch_.emplace(std::move(w).value());
        if (auto r =
                check(loop_.add(watch_->inotify_fd(), EPOLLIN, Token{TokenKind::kConfigWatch, 0}),
                      "epoll add inotify");
            !r)
            return r;
        if (auto r =
                check(loop_.add(watch_->timer_fd(), EPOLLIN, Token{TokenKind::kConfigWatch, 1}),
                      "epoll add watch timer");
            !r)
            return r;
        log_.info("watching the configuration", {log::kv("file", settings_.config_path)});
    }

    if (auto r = follow_interfaces(); !r) return r;

    for (const auto &s : sockets_)
        log_.info("listening", {log::kv("listener", config_.listeners[s.listener_id].name),
                                log::kv("addr", sockaddr_to_string(s.local))});
    return true;
}

int Daemon::run() {
    log_.info("ready",
              {log::kv("classifier", handoff::classifier_name(classifier_.kind)),
               log::kv("listeners", sockets_.size()), log::kv("routes", config_.routes.size()),
               log::kv("workers", pools_->running())});
    notify_systemd("READY=1\nSTATUS=serving");
    std::array<epoll_event, 256> events;
    for (;;) {
        if (stopping_ && shutdown_step()) break;
        const int n = loop_.wait(events, stopping_ ? 50 : -1);
        if (n < 0) {
            log_.error("epoll_wait failed", {log::kv("error", std::strerror(-n))});
            if (!stopping_) begin_shutdown("epoll_wait failed");
            stop_deadline_ = Clock::now();
            continue;
        }
        for (int i = 0; i < n; ++i) dispatch(events[static_cast<std::size_t>(i)]);
    }
    finish_shutdown();
    return 0;
}

void Daemon::notify_systemd(std::string_view state) const {
    if (auto r = sd_notify(state); !r) log_.warn("sd_notify failed", {log::kv("error", r.error())});
}

void Daemon::on_config_watch(std::uint64_t which) {
    if (!watch_) return;
    if (which == 0) {
        watch_->on_inotify();
        return;
    }
    if (!watch_->on_timer() || stopping_) return;
    log_.info("configuration files changed: reloading", {log::kv("file", settings_.config_path)});
    if (reload("watch")) {
        if (auto r = watch_->rewatch(watched_files(settings_.config_path, config_)); !r)
            log_.warn("--watch: cannot watch the new files", {log::kv("error", r.error())});
    }
}

Pools *Daemon::pools_of_generation(std::uint64_t generation) {
    if (pools_ && pools_->generation() == generation) return pools_.get();
    for (auto &r : retired_)
        if (r.pools->generation() == generation) return r.pools.get();
    return nullptr;
}

void Daemon::dispatch(const epoll_event &ev) {
    const Token t = Token::decode(ev.data.u64);
    switch (t.kind) {
        case TokenKind::kListener:
            on_listener_ready(static_cast<std::size_t>(t.id));
            break;
        case TokenKind::kConnection:
            on_connection_event(t.id, ev.events);
            break;
        case TokenKind::kListenerTimer:
            on_listener_timer(static_cast<std::uint32_t>(t.id));
            break;
        case TokenKind::kSignal:
            on_signal();
            break;
        case TokenKind::kSteering:
            on_steering_ready();
            break;
        case TokenKind::kChannel:
            if (Pools *p = pools_of_generation(Pools::generation_of_channel(t.id)))
                p->on_channel_event(t.id, ev.events);
            break;
        case TokenKind::kPoolTimer:
            if (Pools *p = pools_of_generation(t.id)) p->on_timer();
            break;
        case TokenKind::kHousekeeping:
            on_housekeeping();
            break;
        case TokenKind::kHttpListener:
            if (http_) http_->on_listener();
            break;
        case TokenKind::kHttpClient:
            if (http_) http_->on_client(t.id, ev.events);
            break;
        case TokenKind::kConfigWatch:
            on_config_watch(t.id);
            break;
        case TokenKind::kAddressWatch:
            on_address_watch(t.id);
            break;
        case TokenKind::kControl:
            if (control_) control_->on_listen_ready();
            break;
        case TokenKind::kControlClient:
            if (control_) control_->on_client_event(t.id, ev.events);
            break;
    }
}

void Daemon::on_signal() {
    while (const int sig = read_signal(signal_fd_.get())) {
        switch (sig) {
            case SIGCHLD:
                reap_children();
                break;
            case SIGTERM:
            case SIGINT:
                begin_shutdown(::sigabbrev_np(sig));
                break;
            case SIGUSR1:
                log_counters("counters");
                break;
            case SIGHUP:
                (void)reload("SIGHUP");  // logs its result
                break;
            default:
                break;
        }
    }
}

void Daemon::reap_children() {
    for (;;) {
        int status = 0;
        const pid_t pid = ::waitpid(-1, &status, WNOHANG);
        if (pid <= 0) return;
        bool ours = pools_ && pools_->on_child_exit(pid, status);
        for (auto &r : retired_)
            if (!ours) ours = r.pools->on_child_exit(pid, status);
        if (!ours) log_.debug("unknown child reaped", {log::kv("pid", pid)});
    }
}

void Daemon::on_housekeeping() {
    std::uint64_t ticks;
    while (::read(housekeeping_fd_.get(), &ticks, sizeof ticks) < 0 && errno == EINTR) {
    }
    const auto now = Clock::now();
    if (classifier_.bpf) counters_.bpf_orphan_decisions += classifier_.bpf->expire(now);
    if (http_) http_->expire(now);
    if (control_) control_->expire(now);
    check_retired(now);
    prune_stale_handed(now);
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
        if (!socket_paused_[i] || !sockets_[i].fd) continue;
        socket_paused_[i] = false;
        loop_.modify(sockets_[i].fd.get(), EPOLLIN, Token{TokenKind::kListener, i});
    }
    if (const auto n = accept_log_limit_.take_suppressed())
        log_.warn("accept problems not logged", {log::kv("suppressed", n)});
    if (const auto n = peer_log_limit_.take_suppressed())
        log_.debug("connection events not logged", {log::kv("suppressed", n)});
}

void Daemon::log_counters(std::string_view msg) const {
    auto fields = counter_fields(counters_);
    if (classifier_.bpf) {
        // The kernel's side of the same story, so a missing decision can be traced.
        const SteeringCounters k = classifier_.bpf->steering().counters();
        fields.push_back(log::kv("kernel_inserted", k.inserted));
        fields.push_back(log::kv("kernel_insert_failed", k.insert_failed));
        fields.push_back(log::kv("kernel_parses", k.parses));
        fields.push_back(log::kv("kernel_decisions", k.decisions));
        fields.push_back(log::kv("kernel_ringbuf_full", k.ringbuf_full));
        fields.push_back(log::kv("kernel_nested_too_deep", k.nested_too_deep));
        fields.push_back(log::kv("kernel_verdict_msgs", k.verdict_msgs));
    }
    log_.log(log::Level::kInfo, msg, fields);
}

// SIGTERM: stop accepting (the listening sockets are closed), let the connections being
// classified finish (each is bounded by its client_hello_timeout) and go to the workers, then
// retire every pool: workers finish their connections, up to the drain deadline.
void Daemon::begin_shutdown(std::string_view why) {
    if (stopping_) {
        // A second SIGTERM: do not wait for the drain any more.
        log_.info("second stop request: ending the drain now");
        stop_deadline_ = Clock::now();
        return;
    }
    stopping_ = true;
    draining_ = true;  // /readyz: 503 from now on
    notify_systemd("STOPPING=1\nSTATUS=draining");
    log_.info("stopping", {log::kv("signal", why), log::kv("classifying", conns_.size()),
                           log::kv("drain_timeout_ms", settings_.drain_timeout.count())});
    for (auto &s : sockets_)
        if (s.fd) loop_.remove(s.fd.get());
    sockets_.clear();  // closes the listening sockets: no new connections
}

bool Daemon::shutdown_step() {
    const auto now = Clock::now();
    if (conns_.size() > 0 && !stop_deadline_) return false;  // still classifying
    if (!stop_deadline_) stop_deadline_ = now + settings_.drain_timeout;
    if (!pools_->retiring()) {
        pools_->retire();
        log_.info("draining workers", {log::kv("workers", pools_->running())});
    }
    for (const auto id : conns_.ids()) close_connection(id, &Counters::shutdown, "shutdown");
    reap_children();
    std::size_t running = pools_->running();
    for (const auto &r : retired_) running += r.pools->running();
    if (running == 0) return true;
    auto all_pids = [&] {
        auto pids = pools_->pids();
        for (const auto &r : retired_)
            for (const pid_t p : r.pools->pids()) pids.push_back(p);
        return pids;
    };
    if (now >= *stop_deadline_ && !kill_deadline_) {
        log_.info("drain deadline reached: stopping workers", {log::kv("workers", running)});
        for (const pid_t pid : all_pids()) ::kill(pid, SIGTERM);
        kill_deadline_ = now + kShutdownGrace;
    }
    if (kill_deadline_ && now >= *kill_deadline_) {
        for (const pid_t pid : all_pids()) {
            log_.warn("worker did not stop, killing it", {log::kv("pid", pid)});
            ::kill(pid, SIGKILL);
        }
        for (;;) {
            std::size_t left = pools_->running();
            for (const auto &r : retired_) left += r.pools->running();
            if (left == 0) break;
            int status = 0;
            const pid_t pid = ::waitpid(-1, &status, 0);
            if (pid < 0) break;
            bool ours = pools_->on_child_exit(pid, status);
            for (auto &r : retired_)
                if (!ours) ours = r.pools->on_child_exit(pid, status);
        }
        return true;
    }
    return false;
}

void Daemon::finish_shutdown() {
    pools_->stop();
    retired_.clear();
    control_.reset();  // removes the socket file
    http_.reset();
    log_counters("stopped");
}

void Daemon::share_relay_maps(Pools &pools, config::PassthroughRelay relay) const {
    if (!classifier_.bpf || relay == config::PassthroughRelay::kSplice) return;
    const KernelSteering::RelayMaps maps = classifier_.bpf->steering().relay_maps();
    if (maps.socks < 0 || maps.peers < 0) return;
    pools.set_inherited({maps.socks, maps.peers}, "SNI_RELAY_FDS=4,5");
}

}  // namespace sni::loader
