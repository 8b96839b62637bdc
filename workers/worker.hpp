// The worker process's loop: receives handoffs on the channel, owns the connections, runs
// their timers and budgets, and stops on SIGTERM/SIGINT (drains for a short grace period, then
// closes what is left) or when the daemon's end of the channel closes (stops taking handoffs
// and finishes the connections it has).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/fd.hpp"
#include "common/handoff.hpp"
#include "common/log.hpp"
#include "common/prefix_bio.hpp"
#include "workers/connection.hpp"
#include "workers/event_loop.hpp"
#include "workers/health_checks.hpp"
#include "workers/route_runtime.hpp"
#include "workers/session_tickets.hpp"

namespace sni::worker {

class Worker {
  public:
    static constexpr auto kDrainGrace = std::chrono::seconds(2);

    // `access`: nullptr = access log off. `listeners`: the config's listener names, by id.
    Worker(const log::Logger &log, const AccessLogSink *access,
           std::vector<std::unique_ptr<RouteRuntime>> routes, Epoll epoll, int channel,
           UniqueFd signal_fd, std::vector<std::string> listeners);

    // Passthrough connections are relayed in the kernel (see workers/kernel_relay.hpp).
    void set_kernel_relay(std::unique_ptr<KernelRelay> relay) {
        relay_ = std::move(relay);
        env_.relay = relay_.get();
    }

    // Returns the process exit code.
    int run();

  private:
    void dispatch(const epoll_event &ev, Clock::time_point now);
    void on_channel(Clock::time_point now);
    void on_ticket_keys(std::size_t size);  // the message is in scratch_
    void on_signal(Clock::time_point now);
    void accept(handoff::Received received, Clock::time_point now);
    void after(Connection &conn);
    void run_timers(Clock::time_point now);
    void run_ready(Clock::time_point now);
    void stop_taking(const char *why, Clock::time_point now);
    void abort_all(const char *reason, Clock::time_point now);

    const log::Logger &log_;
    std::vector<std::unique_ptr<RouteRuntime>> routes_;
    Epoll epoll_;
    int channel_;
    UniqueFd signal_fd_;
    PrefixBioMethod prefix_;
    ReportChannel reports_;
    std::vector<std::string> listeners_;
    std::unique_ptr<KernelRelay> relay_;  // before conns_: connections unpair on destruction
    ConnEnv env_;
    std::vector<std::uint8_t> scratch_;
    std::unordered_map<std::uint64_t, std::unique_ptr<Connection>> conns_;
    std::vector<std::uint64_t> ready_;
    TimerQueue timers_;
    std::uint64_t next_id_ = 1;
    bool taking_ = true;
    std::optional<Clock::time_point> drain_deadline_;
    std::unique_ptr<HealthChecks> health_;
    SessionTickets tickets_;
};

}  // namespace sni::worker
