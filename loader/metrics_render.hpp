// Prometheus text exposition format 0.0.4 of a MetricsSnapshot. Every metric is prefixed
// "sni_"; docs/operations.md ("## Metrics") lists them. Used by the HTTP endpoint and meant for
// `sni-ctl metrics` too.
#pragma once

#include <string>
#include <string_view>

#include "loader/metrics_snapshot.hpp"

namespace sni::loader {

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

std::string render_prometheus(const MetricsSnapshot &snapshot);

// A label value escaped as the format requires (\\, \", \n).
std::string prometheus_label_value(std::string_view value);

}  // namespace sni::loader
