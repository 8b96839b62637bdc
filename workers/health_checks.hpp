// Active health checks of one worker process: every server of every route of the pool that has
// `backend.health_check` is probed every `interval` from the worker's own event loop, with a
// non-blocking connect (type tcp) or a connect plus a full TLS handshake with the route's
// backend TLS settings (type tls: versions, ciphers, SNI, verification, pins, client
// certificate; never a resumed session). A probe that has not finished after `timeout` fails.
//
// A server goes down after `fall` failed probes in a row and comes back after `rise` passing
// probes in a row; both changes are logged with the reason. Servers start up. The verdict is
// written to the route's Balancer (set_down; a passing probe also ends a passive ejection).
// Each worker process of a pool checks on its own: its view can differ from its siblings' for
// up to `fall * interval`. Every probe's outcome goes to the daemon as a "health" report
// (common/conn_report.hpp) with the verdict and this worker's running totals.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "workers/event_loop.hpp"
#include "workers/report_channel.hpp"
#include "workers/ossl.hpp"
#include "workers/route_runtime.hpp"
#include "workers/session_cache.hpp"

namespace sni::worker {

class HealthChecks {
  public:
    // Tokens [kTokenBase, kTokenBase + probes) are ours in the shared epoll.
    static constexpr std::uint64_t kTokenBase = std::uint64_t(1) << 62;

    // Routes and `reports` must outlive this object. The first probes start at `now`.
    HealthChecks(Epoll &epoll, const log::Logger &log, ReportChannel &reports,
                 const std::vector<std::unique_ptr<RouteRuntime>> &routes, Clock::time_point now);
    ~HealthChecks();
    HealthChecks(const HealthChecks &) = delete;
    HealthChecks &operator=(const HealthChecks &) = delete;

    bool owns(std::uint64_t token) const {
        return token >= kTokenBase && token < kTokenBase + probes_.size();
    }
    void on_event(std::uint64_t token, std::uint32_t events, Clock::time_point now);
    // Starts the probes that are due and fails those past their timeout.
    void on_timer(Clock::time_point now);
    std::optional<Clock::time_point> next() const;
    bool empty() const { return probes_.empty(); }
    // One "health" report per probed server (at start: every server is up until probed).
    void report_all();

  private:
    enum class Phase : std::uint8_t { kIdle, kConnecting, kHandshake };
    struct Probe {
        RouteRuntime *route = nullptr;
        std::size_t server = 0;
        Phase phase = Phase::kIdle;
        UniqueFd fd;
        SslPtr ssl;
        BackendSslState ssl_state;
        std::uint32_t events = 0;  // registered in epoll (0 = not registered)
        Clock::time_point next_start{};
        Clock::time_point deadline{};
        std::uint32_t passed = 0;  // in a row
        std::uint32_t failed = 0;  // in a row
        std::uint64_t total_passed = 0;
        std::uint64_t total_failed = 0;
        std::string last_error;  // of the last probe, "" when it passed
    };

    void begin(std::size_t index, Clock::time_point now);
    void step_handshake(std::size_t index, Clock::time_point now);
    void watch(std::size_t index, std::uint32_t events);
    void finish(std::size_t index, bool ok, const std::string &why, Clock::time_point now);
    void report(const Probe &p);

    Epoll &epoll_;
    const log::Logger &log_;
    ReportChannel &reports_;
    std::vector<std::unique_ptr<Probe>> probes_;
};

}  // namespace sni::worker
