// A Prometheus-style histogram of durations with fixed buckets (seconds), and the clock the
// daemon stamps connections with.
#pragma once

#include <array>
#include <cstdint>

namespace sni::loader {

struct Histogram {
    // Upper bounds in seconds: 50 us .. 10 s; +Inf is implicit.
    static constexpr std::array<double, 16> kBounds = {
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
        0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};
    std::array<std::uint64_t, kBounds.size() + 1> buckets{};  // per bucket (not cumulative)
    std::uint64_t count = 0;
    double sum = 0;  // seconds

    void observe_us(std::uint64_t us);
    void merge(const Histogram &other);
};

// CLOCK_MONOTONIC in ns (the clock of Handoff::accepted_ns).
std::uint64_t monotonic_ns();
// Microseconds from `start_ns` (CLOCK_MONOTONIC) to now; 0 when start_ns is 0 or in the future.
std::uint64_t us_since(std::uint64_t start_ns);

}  // namespace sni::loader
