#include "loader/metrics_histogram.hpp"

#include <time.h>

namespace sni::loader {

void Histogram::observe_us(std::uint64_t us) {
    const double s = static_cast<double>(us) / 1e6;
    std::size_t i = 0;
    while (i < kBounds.size() && s > kBounds[i]) ++i;
    ++buckets[i];
    ++count;
    sum += s;
}

std::uint64_t monotonic_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000000000u +
           static_cast<std::uint64_t>(ts.tv_nsec);
}

std::uint64_t us_since(std::uint64_t start_ns) {
    const std::uint64_t now = monotonic_ns();
    if (start_ns == 0 || start_ns > now) return 0;
    return (now - start_ns) / 1000;
}

void Histogram::merge(const Histogram &other) {
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
    count += other.count;
    sum += other.sum;
}

}  // namespace sni::loader
