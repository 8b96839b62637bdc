// Everything the metrics endpoint (and `sni-ctl metrics`) shows, copied out of the daemon at one
// moment, with the config names its labels use (never a peer's bytes).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "loader/counters.hpp"
#include "loader/metrics_reports.hpp"

namespace sni::loader {

struct MetricsSnapshot {
    std::vector<std::string> listeners;                   // by listener id
    std::vector<std::string> routes;                      // by route id
    std::vector<std::vector<std::string>> route_servers;  // by route id, by server index
    std::vector<std::string> route_pools;                 // by route id

    Counters counters;                  // the daemon's own counts (with Counters::obs)
    std::vector<RouteReports> reports;  // the workers' reports, by route id
    ReportTotals report_totals;
    std::vector<std::uint64_t> open_by_route;  // open connections the workers reported
    // By (route id, server index): the active health checks of the current generation's workers.
    std::map<std::pair<std::uint32_t, std::uint32_t>, ServerHealth> backend_health;

    struct Pool {
        std::string name;
        std::uint64_t workers = 0, running = 0, ready = 0;
    };
    std::vector<Pool> pools;

    std::uint64_t generation = 1;        // of the configuration
    std::uint64_t workers_draining = 0;  // of earlier generations
    std::uint64_t classifying = 0;       // held by the daemon now
    std::uint64_t in_workers = 0;        // handed off, close not reported yet (every generation)
    std::map<std::string, std::uint64_t> handoffs_by_route;  // by route name, since start

    bool ready = false;  // what /readyz answers
    double uptime_seconds = 0;
};

}  // namespace sni::loader
