// What the daemon observes for the metrics endpoint beyond the plain Counters: what happened to
// connections by listener and route, the classification and handoff latencies.
#pragma once

#include <cstdint>
#include <map>
#include <string_view>
#include <tuple>

#include "loader/metrics_histogram.hpp"

namespace sni::loader {

inline constexpr std::int64_t kNoRoute = -1;

struct Observations {
    // (listener id, route id or kNoRoute, outcome) -> connections. The outcome is the name of
    // the Counters member that counted it ("handed_off", "rejected_unknown_sni", ...).
    std::map<std::tuple<std::uint32_t, std::int64_t, std::string_view>, std::uint64_t> outcomes;

    Histogram classification;  // accept -> decision
    Histogram handoff;         // accept -> the datagram is in the worker's channel

    std::uint64_t worker_restarts = 0;  // starts after an exit (not the first start)

    void count(std::uint32_t listener, std::int64_t route, std::string_view outcome) {
        ++outcomes[{listener, route, outcome}];
    }
};

}  // namespace sni::loader
