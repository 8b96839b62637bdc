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

constexpr auto kShutdownGrace = std::chrono::seconds(3);

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

    auto pools =
        Pools::create(config_, settings_.worker_bin, settings_.config_path, loop_, log_, counters_);
    if (!pools) return config::unexpected(std::move(pools).error());
    pools_ = std::make_unique<Pools>(std::move(pools).value());
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
    if (auto r = check(loop_.add(pools_->timer_fd(), EPOLLIN, Token{TokenKind::kPoolTimer}),
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
    while (!stopping_) {
        const int n = loop_.wait(events, -1);
        if (n < 0) {
            log_.error("epoll_wait failed", {log::kv("error", std::strerror(-n))});
            break;
        }
        for (int i = 0; i < n && !stopping_; ++i) dispatch(events[static_cast<std::size_t>(i)]);
    }
    shutdown();
    return 0;
}

void Daemon::notify_systemd(std::string_view state) const {
    if (auto r = sd_notify(state); !r) log_.warn("sd_notify failed", {log::kv("error", r.error())});
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
            pools_->on_channel_event(t.id, ev.events);
            break;
        case TokenKind::kPoolTimer:
            pools_->on_timer();
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
                log_.info("stopping", {log::kv("signal", ::sigabbrev_np(sig))});
                stopping_ = true;
                return;
            case SIGUSR1:
                log_counters("counters");
                break;
            case SIGHUP:
                log_.warn("SIGHUP: configuration reload is not supported yet; ignored");
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
        if (!pools_ || !pools_->on_child_exit(pid, status))
            log_.debug("unknown child reaped", {log::kv("pid", pid)});
    }
}

void Daemon::on_housekeeping() {
    std::uint64_t ticks;
    while (::read(housekeeping_fd_.get(), &ticks, sizeof ticks) < 0 && errno == EINTR) {
    }
    const auto now = Clock::now();
    if (classifier_.bpf) counters_.bpf_orphan_decisions += classifier_.bpf->expire(now);
    if (http_) http_->expire(now);
    for (std::size_t i = 0; i < sockets_.size(); ++i) {
        if (!socket_paused_[i]) continue;
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

void Daemon::shutdown() {
    notify_systemd("STOPPING=1\nSTATUS=draining");
    http_.reset();
    for (auto &s : sockets_) loop_.remove(s.fd.get());
    sockets_.clear();  // closes the listening sockets: no new connections
    for (const auto id : conns_.ids()) close_connection(id, &Counters::shutdown, "shutdown");

    pools_->stop();
    const auto deadline = Clock::now() + kShutdownGrace;
    while (pools_->running() > 0 && Clock::now() < deadline) {
        reap_children();
        if (pools_->running() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    if (pools_->running() > 0) {
        for (const pid_t pid : pools_->pids()) {
            log_.warn("worker did not stop, killing it", {log::kv("pid", pid)});
            ::kill(pid, SIGKILL);
        }
        while (pools_->running() > 0) {
            int status = 0;
            const pid_t pid = ::waitpid(-1, &status, 0);
            if (pid < 0) break;
            pools_->on_child_exit(pid, status);
        }
    }
    log_counters("stopped");
}

}  // namespace sni::loader
