// Everything the metrics endpoint (and `sni-ctl metrics`) shows, copied out of the daemon at one
// moment, with the config names its labels use (never a peer's bytes).
#pragma once

#include <cstdint>
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

    struct Pool {
        std::string name;
        std::uint64_t workers = 0, running = 0, ready = 0;
    };
    std::vector<Pool> pools;

    bool ready = false;  // what /readyz answers
    double uptime_seconds = 0;
};

}  // namespace sni::loader
