// Backend server selection of one route inside one worker: weighted round robin (smooth, as
// in nginx) or least connections relative to weight, with passive ejection: a server whose
// connects failed `kEjectAfter` times in a row is skipped for `kEjectFor` (unless every
// server is ejected: then all are tried again rather than none).
//
// With active health checks (workers/health_checks.*) a server can also be marked down: a
// down server is never picked, not even when every other one is ejected or down. A passing
// active check ends a passive ejection (the server just accepted a connection).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/config_types.hpp"

namespace sni::worker {

class Balancer {
  public:
    using Clock = std::chrono::steady_clock;
    static constexpr std::uint32_t kEjectAfter = 3;
    static constexpr Clock::duration kEjectFor = std::chrono::seconds(10);

    // `usable[i]` false: server i can never be picked (e.g. its host name did not resolve).
    Balancer(config::Balance balance, std::vector<std::uint32_t> weights, std::vector<bool> usable);

    // A server not in `exclude`; nullopt when there is none.
    std::optional<std::size_t> pick(Clock::time_point now, std::span<const std::size_t> exclude);

    // Active connections (counted from pick to release), for leastconn.
    void acquire(std::size_t server);
    void release(std::size_t server);

    void connect_succeeded(std::size_t server);
    // True when this failure ejected the server.
    bool connect_failed(std::size_t server, Clock::time_point now);

    bool ejected(std::size_t server, Clock::time_point now) const;

    // Active health check verdicts.
    void set_down(std::size_t server, bool down) { servers_[server].down = down; }
    bool down(std::size_t server) const { return servers_[server].down; }
    void check_passed(std::size_t server);
    std::size_t size() const { return servers_.size(); }
    std::uint32_t active(std::size_t server) const { return servers_[server].active; }

  private:
    struct Server {
        std::uint32_t weight = 1;
        bool usable = true;
        bool down = false;         // by the active health checks
        std::int64_t current = 0;  // smooth weighted round robin
        std::uint32_t active = 0;
        std::uint32_t failures = 0;
        Clock::time_point ejected_until{};
    };

    std::size_t pick_round_robin(const std::vector<std::size_t> &candidates);
    std::size_t pick_least_conn(const std::vector<std::size_t> &candidates);

    config::Balance balance_;
    std::vector<Server> servers_;
    std::size_t cursor_ = 0;  // leastconn tie breaking
    // pick()'s candidate lists, kept so that a pick allocates nothing.
    std::vector<std::size_t> healthy_, any_;
};

}  // namespace sni::worker
