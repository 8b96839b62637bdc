// sni-splitterd's core: listeners, the event loop, classification, decisions, handoffs and the
// worker pools, in one thread. Built by create(); run() returns the exit code.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "loader/classifier_select.hpp"
#include "loader/connections.hpp"
#include "loader/counters.hpp"
#include "loader/deadline_fifo.hpp"
#include "loader/event_loop.hpp"
#include "loader/http_endpoint.hpp"
#include "loader/listeners.hpp"
#include "loader/metrics_snapshot.hpp"
#include "loader/policy.hpp"
#include "loader/pool.hpp"
#include "loader/route_table.hpp"
#include "loader/userspace_classifier.hpp"

namespace sni::loader {

struct DaemonSettings {
    std::string config_path;  // passed on to the workers
    std::string worker_bin;
    config::Classifier classifier = config::Classifier::kAuto;
};

class Daemon {
  public:
    using Clock = std::chrono::steady_clock;

    // Binds the listeners, chooses the classifier, starts the workers.
    static config::Result<std::unique_ptr<Daemon>, std::string> create(config::Config config,
                                                                       DaemonSettings settings,
                                                                       const log::Logger &log);
    ~Daemon();
    Daemon(const Daemon &) = delete;
    Daemon &operator=(const Daemon &) = delete;

    // Runs until SIGTERM/SIGINT; returns the process exit code.
    int run();

    const Counters &counters() const { return counters_; }

    // daemon_metrics.cpp: the metrics endpoint's data (also for the control socket).
    MetricsSnapshot metrics_snapshot() const;
    // Listeners bound, every pool has a worker that reported ready, not stopping or draining.
    bool ready() const;
    std::vector<OpenConnView> open_connections() const { return pools_->open_connections(); }
    // Reload results for sni_reloads_total (the reload code calls it).
    void count_reload(bool ok) { ++(ok ? counters_.obs.reloads_ok : counters_.obs.reloads_failed); }
    // Draining (set by the drain code): /readyz answers 503 from then on.
    void set_draining(bool draining) { draining_ = draining; }

  private:
    Daemon(config::Config config, DaemonSettings settings, const log::Logger &log, EventLoop loop);

    // daemon.cpp: setup, dispatch, signals, shutdown
    config::Result<bool, std::string> setup();
    void dispatch(const epoll_event &ev);
    void on_signal();
    void on_housekeeping();
    void reap_children();
    void shutdown();
    void log_counters(std::string_view msg) const;
    void notify_systemd(std::string_view state) const;  // sd_notify; a failure is logged

    // daemon_metrics.cpp
    config::Result<bool, std::string> start_metrics_endpoint();
    http::Response serve_http(std::string_view path) const;

    // accept.cpp
    void on_listener_ready(std::size_t socket_index);
    void shed_one(int listen_fd);
    void start_connection(std::size_t socket_index, UniqueFd fd, const sockaddr_storage &peer,
                          socklen_t peer_len);

    // connection_flow.cpp
    void on_connection_event(std::uint64_t id, std::uint32_t events);
    void on_listener_timer(std::uint32_t listener_id);
    void on_steering_ready();
    void apply_kernel_decision(Connection &conn, const KernelDecision &d);
    void decide_and_act(Connection &conn, const ch_info &facts, std::optional<RouteId> matched);
    void continue_reading(Connection &conn);
    void take_from_kernel(Connection &conn);
    void continue_deferred(Connection &conn);
    void hand_off(std::uint64_t id);
    void close_connection(std::uint64_t id, std::uint64_t Counters::*counter,
                          std::string_view reason);

    const log::Logger &log_;
    config::Config config_;
    DaemonSettings settings_;
    Counters counters_;
    EventLoop loop_;
    RouteTable routes_;
    std::vector<ListenerPolicy> policies_;
    std::vector<ListenerSocket> sockets_;
    std::vector<bool> socket_paused_;
    std::vector<DeadlineFifo> deadlines_;  // by listener id
    UniqueFd signal_fd_;
    UniqueFd housekeeping_fd_;
    UniqueFd reserve_fd_;  // given up to accept-and-close when out of fds
    ClassifierChoice classifier_;
    std::unique_ptr<UserspaceClassifier> userspace_;
    ConnectionTable conns_;
    std::unique_ptr<Pools> pools_;
    std::uint64_t next_conn_id_ = 1;
    bool stopping_ = false;
    bool draining_ = false;
    Clock::time_point started_at_ = Clock::now();
    std::unique_ptr<http::Endpoint> http_;  // metrics and health; null without metrics.listen
    log::RateLimiter accept_log_limit_{std::chrono::seconds(10), 5};
    log::RateLimiter peer_log_limit_{std::chrono::seconds(1), 20};
};

}  // namespace sni::loader
