// The daemon's counters as Prometheus text exposition (version 0.0.4). One function, so the
// renderer can be replaced as a whole (the metrics endpoint renders through it too).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "loader/counters.hpp"

namespace sni::loader {

struct MetricsInput {
    const Counters &counters;
    std::uint64_t generation = 1;
    double uptime_seconds = 0;
    std::size_t workers_running = 0;
    std::size_t workers_retiring = 0;
    std::size_t classifying = 0;                             // connections held by the daemon now
    std::map<std::string, std::uint64_t> route_handed = {};  // by route name
};

std::string render_metrics(const MetricsInput &in);

}  // namespace sni::loader
