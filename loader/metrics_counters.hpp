// Names of the daemon's Counters for the metrics endpoint: the outcome of every connection the
// daemon closed or handed off, by the name of the Counters member that counts it.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "loader/counters.hpp"

namespace sni::loader {

struct CounterName {
    std::uint64_t Counters::*member;
    std::string_view name;
};

// handed_off, then every close reason of Counters::closed(), in a fixed order.
std::span<const CounterName> outcome_counters();
// The name of `member` ("other" for a counter that is not an outcome).
std::string_view outcome_name(std::uint64_t Counters::*member);

}  // namespace sni::loader
