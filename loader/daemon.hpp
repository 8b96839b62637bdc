// sni-splitterd's core: listeners, the event loop, classification, decisions, handoffs and the
// worker pools, in one thread. Built by create(); run() returns the exit code.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "loader/addr_pair.hpp"
#include "loader/classifier_select.hpp"
#include "common/control_protocol.hpp"
#include "loader/config_snapshot.hpp"
#include "loader/connections.hpp"
#include "loader/control_server.hpp"
#include "loader/config_watch.hpp"
#include "loader/counters.hpp"
#include "loader/deadline_fifo.hpp"
#include "loader/event_loop.hpp"
#include "loader/http_endpoint.hpp"
#include "loader/interface_addresses.hpp"
#include "loader/ktls_probe.hpp"
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
    // SIGTERM and reload: how long workers may finish their connections before they are told
    // to stop (like nginx's worker_shutdown_timeout).
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(30);
    std::string version;
    bool watch = false;       // reload when the configuration or a file it names changes
    ConfigSnapshot snapshot;  // generation 1's frozen copy of config_path (what workers read)
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
    bool uses_bpf() const { return classifier_.bpf != nullptr; }

    // daemon_metrics.cpp: the metrics endpoint's data (also for the control socket).
    MetricsSnapshot metrics_snapshot() const;
    // Listeners bound, every pool has a worker that reported ready, not stopping or draining.
    bool ready() const;
    std::vector<OpenConnView> open_connections() const { return pools_->open_connections(); }
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
    void begin_shutdown(std::string_view why);
    bool shutdown_step();  // true once everything has stopped
    void finish_shutdown();
    void log_counters(std::string_view msg) const;
    void notify_systemd(std::string_view state) const;  // sd_notify; a failure is logged

    // daemon_metrics.cpp
    config::Result<bool, std::string> start_metrics_endpoint();
    http::Response serve_http(std::string_view path) const;
    Pools *pools_of_generation(std::uint64_t generation);

    // reload.cpp: a new generation of the configuration (SIGHUP / sni-ctl reload)
    config::Result<control::Json, std::string> reload(std::string_view trigger);
    void retire_pools(std::unique_ptr<Pools> pools, ConfigSnapshot snapshot);
    void check_retired(Clock::time_point now);

    // control_commands.cpp: the control socket's commands
    std::string handle_control(const control::Request &request);
    control::Json cmd_status() const;
    control::Json cmd_routes() const;
    control::Json cmd_conns();
    std::set<std::uint16_t> listener_ports() const;
    // Handed-off connections whose close a worker could not report (it dropped reports): the
    // ones `in_kernel` ("client|local" as sock_diag lists them) no longer has are forgotten.
    void forget_closed_handed(const std::set<std::string> &in_kernel);
    // Housekeeping: the same from a sock_diag listing, only after dropped reports and at most
    // every kHandedPruneEvery.
    void prune_stale_handed(Clock::time_point now);
    static constexpr std::chrono::seconds kHandedPruneEvery{10};
    config::Result<control::Json, std::string> cmd_drain(const control::Json &args);
    std::string cmd_metrics() const;

    // interface_follow.cpp: interface binds follow their interface's addresses at runtime
    config::Result<bool, std::string> follow_interfaces();
    void on_address_watch(std::uint64_t which);
    void reconcile_interface_binds();
    void add_interface_socket(std::uint32_t listener_id, const config::SocketAddress &bind,
                              const config::SocketAddress &address);
    void remove_interface_socket(std::size_t socket_index);

    // accept.cpp
    void on_listener_ready(std::size_t socket_index);
    void shed_one(int listen_fd);
    void start_connection(std::size_t socket_index, UniqueFd fd, const sockaddr_storage &peer,
                          socklen_t peer_len);

    // connection_flow.cpp
    void on_connection_event(std::uint64_t id, std::uint32_t events);
    void on_listener_timer(std::uint32_t listener_id);
    void on_steering_ready();
    // Workers of `pools` inherit the kernel relay's maps (SNI_RELAY_FDS) unless the relay is
    // off (passthrough_relay: splice) or the BPF classifier does not run.
    void share_relay_maps(Pools &pools, config::PassthroughRelay relay) const;
    void apply_kernel_decision(Connection &conn, const KernelDecision &d);
    void decide_and_act(Connection &conn, const ch_info &facts, std::optional<RouteId> matched);
    void continue_reading(Connection &conn);
    void take_into_steering(Connection &conn);
    // Adds the connection's socket to epoll, or changes what is watched; 0 or the errno.
    int watch(Connection &conn, std::uint32_t events);
    void take_from_kernel(Connection &conn);
    bool stays_in_kernel(const Connection &conn) const;
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
    std::unique_ptr<http::Endpoint> http_;  // metrics and health; null without metrics.listen
    bool stopped_ = false;
    Clock::time_point started_ = Clock::now();
    std::optional<Clock::time_point> stop_deadline_;  // SIGTERM: workers are told to stop then
    std::optional<Clock::time_point> kill_deadline_;  // then killed

    // Reload.
    std::uint64_t generation_ = 1;
    std::uint64_t route_swap_ns_ = 0;  // CLOCK_MONOTONIC of the last BPF route table swap
    struct Retired {
        std::unique_ptr<Pools> pools;
        ConfigSnapshot snapshot;    // removed once its workers are gone
        Clock::time_point stop_at;  // drain deadline: SIGTERM then
        bool told_to_stop = false;
    };
    std::vector<Retired> retired_;
    // Worker reports of generations that are gone, by route name: counters never go back.
    std::map<std::string, RouteReports> reports_history_;
    std::string last_reload_error_;

    // Drain (sni-ctl drain): by route name and by listener id.
    std::vector<bool> route_drained_;     // by route id of the current generation
    std::vector<bool> listener_drained_;  // by listener id

    // Control and per-route bookkeeping.
    std::unique_ptr<ControlServer> control_;
    std::optional<ConfigWatch> watch_;                 // --watch
    std::unique_ptr<AddressMonitor> address_monitor_;  // null without interface binds
    UniqueFd address_debounce_fd_;                     // one-shot timer after a change
    void on_config_watch(std::uint64_t which);
    KtlsSupport ktls_;
    std::unordered_map<std::string, std::uint64_t> route_handed_;  // by route name
    Clock::time_point next_handed_prune_{};
    std::vector<KernelDecision> decisions_;  // on_steering_ready's batch, kept for its capacity

    log::RateLimiter accept_log_limit_{std::chrono::seconds(10), 5};
    log::RateLimiter peer_log_limit_{std::chrono::seconds(1), 20};
};

}  // namespace sni::loader
