#include "loader/metrics_text.hpp"

#include <sstream>

namespace sni::loader {

namespace {

// Label values: backslash, double quote and newline escaped (the exposition format's rule).
std::string label(std::string_view v) {
    std::string out;
    for (const char c : v) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

std::string render_metrics(const MetricsInput &in) {
    const Counters &c = in.counters;
    std::ostringstream o;
    auto head = [&](const char *name, const char *type, const char *help) {
        o << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
    };
    head("sni_connections_accepted_total", "counter", "Connections accepted on the listeners.");
    o << "sni_connections_accepted_total " << c.accepted << '\n';

    head("sni_connections_total", "counter",
         "Connections by what the daemon did with them (handed off or closed, with the reason).");
    const std::pair<const char *, std::uint64_t> outcomes[] = {
        {"routed", c.routed},
        {"default_unknown_sni", c.default_unknown_sni},
        {"default_no_sni", c.default_no_sni},
        {"rejected_unknown_sni", c.rejected_unknown_sni},
        {"rejected_no_sni", c.rejected_no_sni},
        {"not_tls", c.not_tls},
        {"malformed", c.malformed},
        {"too_big", c.too_big},
        {"timeout", c.timeout},
        {"closed_early", c.closed_early},
        {"read_error", c.read_error},
        {"handoff_overflow", c.handoff_overflow},
        {"handoff_error", c.handoff_error},
        {"no_worker", c.no_worker},
        {"shutdown", c.shutdown},
        {"drained", c.drained},
        {"bpf_handoff_loss", c.bpf_handoff_loss},
        {"accept_shed", c.accept_shed},
    };
    for (const auto &[name, v] : outcomes)
        o << "sni_connections_total{outcome=\"" << name << "\"} " << v << '\n';

    head("sni_handoffs_total", "counter", "Connections handed to a worker, by route.");
    for (const auto &[route, v] : in.route_handed)
        o << "sni_handoffs_total{route=\"" << label(route) << "\"} " << v << '\n';

    head("sni_reloads_total", "counter", "Configuration reloads by result.");
    o << "sni_reloads_total{result=\"ok\"} " << c.reloads << '\n';
    o << "sni_reloads_total{result=\"failed\"} " << c.reloads_failed << '\n';
    head("sni_config_generation", "gauge", "Generation of the configuration in force.");
    o << "sni_config_generation " << in.generation << '\n';

    head("sni_worker_starts_total", "counter", "Worker processes started.");
    o << "sni_worker_starts_total " << c.worker_starts << '\n';
    head("sni_worker_exits_total", "counter", "Worker processes that exited.");
    o << "sni_worker_exits_total " << c.worker_exits << '\n';
    head("sni_workers", "gauge", "Worker processes running, by state.");
    o << "sni_workers{state=\"serving\"} " << in.workers_running << '\n';
    o << "sni_workers{state=\"draining\"} " << in.workers_retiring << '\n';
    head("sni_connections_classifying", "gauge", "Connections the daemon is classifying now.");
    o << "sni_connections_classifying " << in.classifying << '\n';
    head("sni_uptime_seconds", "gauge", "Seconds since the daemon started.");
    o << "sni_uptime_seconds " << static_cast<std::uint64_t>(in.uptime_seconds) << '\n';
    return o.str();
}

}  // namespace sni::loader
