#include "loader/metrics_render.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <utility>

#include "common/clienthello.hpp"
#include "loader/metrics_counters.hpp"

namespace sni::loader {

namespace {

using Label = std::pair<std::string_view, std::string_view>;

class Writer {
  public:
    void family(std::string_view name, std::string_view type, std::string_view help) {
        out_ += "# HELP ";
        out_ += name;
        out_ += ' ';
        out_ += help;
        out_ += "\n# TYPE ";
        out_ += name;
        out_ += ' ';
        out_ += type;
        out_ += '\n';
    }
    void sample(std::string_view name, std::initializer_list<Label> labels, std::uint64_t v) {
        head(name, labels, {});
        out_ += std::to_string(v);
        out_ += '\n';
    }
    void sample_double(std::string_view name, std::initializer_list<Label> labels, double v,
                       Label extra = {}) {
        head(name, labels, extra);
        char buf[64];
        const auto r = std::to_chars(buf, buf + sizeof buf, v);
        out_.append(buf, r.ptr);
        out_ += '\n';
    }
    // Buckets (cumulative, with le), _sum and _count of one labelled histogram.
    void histogram(std::string_view name, std::initializer_list<Label> labels, const Histogram &h) {
        const std::string bucket = std::string(name) + "_bucket";
        std::uint64_t cumulative = 0;
        for (std::size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
            cumulative += h.buckets[i];
            std::string le = "+Inf";
            if (i < Histogram::kBounds.size()) {
                char buf[32];
                const auto r = std::to_chars(buf, buf + sizeof buf, Histogram::kBounds[i],
                                             std::chars_format::fixed);  // 0.0001, not 1e-04
                le.assign(buf, r.ptr);
            }
            head(bucket, labels, {"le", le});
            out_ += std::to_string(cumulative);
            out_ += '\n';
        }
        sample_double(std::string(name) + "_sum", labels, h.sum);
        sample(std::string(name) + "_count", labels, h.count);
    }
    std::string take() { return std::move(out_); }

  private:
    void head(std::string_view name, std::initializer_list<Label> labels, Label extra) {
        out_ += name;
        bool first = true;
        auto add = [&](const Label &l) {
            out_ += first ? '{' : ',';
            first = false;
            out_ += l.first;
            out_ += "=\"";
            out_ += prometheus_label_value(l.second);
            out_ += '"';
        };
        for (const Label &l : labels) add(l);
        if (!extra.first.empty()) add(extra);
        if (!first) out_ += '}';
        out_ += ' ';
    }
    std::string out_;
};

std::string_view name_or(const std::vector<std::string> &names, std::size_t i) {
    return i < names.size() ? std::string_view(names[i]) : std::string_view("?");
}

void daemon_metrics(Writer &w, const MetricsSnapshot &s) {
    const Counters &c = s.counters;
    w.family("sni_up", "gauge", "1 while the daemon's event loop runs.");
    w.sample("sni_up", {}, 1);
    w.family("sni_ready", "gauge", "1 when /readyz answers 200.");
    w.sample("sni_ready", {}, s.ready ? 1 : 0);
    w.family("sni_uptime_seconds", "gauge", "Seconds since the daemon started.");
    w.sample_double("sni_uptime_seconds", {}, s.uptime_seconds);

    w.family("sni_accepted_total", "counter", "Connections accepted by the daemon.");
    w.sample("sni_accepted_total", {}, c.accepted);
    w.family("sni_accept_errors_total", "counter", "accept() failures.");
    w.sample("sni_accept_errors_total", {}, c.accept_errors);
    w.family("sni_accept_shed_total", "counter", "Connections accepted and closed: out of fds.");
    w.sample("sni_accept_shed_total", {}, c.accept_shed);

    w.family("sni_decisions_total", "counter", "Classification decisions that hand off.");
    w.sample("sni_decisions_total", {{"decision", "routed"}}, c.routed);
    w.sample("sni_decisions_total", {{"decision", "default_unknown_sni"}}, c.default_unknown_sni);
    w.sample("sni_decisions_total", {{"decision", "default_no_sni"}}, c.default_no_sni);

    w.family("sni_daemon_connections_total", "counter",
             "What the daemon did with each connection: handed off, or the close reason.");
    for (const CounterName &o : outcome_counters())
        w.sample("sni_daemon_connections_total", {{"outcome", o.name}}, c.*(o.member));

    w.family("sni_connections_total", "counter",
             "Daemon outcomes by listener and route (route \"\" before a route was chosen).");
    for (const auto &[key, n] : c.obs.outcomes) {
        const auto &[listener, route, outcome] = key;
        const std::string_view rname =
            route == kNoRoute ? std::string_view() : name_or(s.routes, std::size_t(route));
        w.sample(
            "sni_connections_total",
            {{"listener", name_or(s.listeners, listener)}, {"route", rname}, {"outcome", outcome}},
            n);
    }

    w.family("sni_not_tls_total", "counter", "not_tls closes by parser reason.");
    w.family("sni_malformed_total", "counter", "malformed closes by parser reason.");
    for (std::uint32_t r = 0; r < CH_R__COUNT; ++r) {
        if (c.not_tls_by_reason[r] != 0)
            w.sample("sni_not_tls_total", {{"reason", reason_name(r)}}, c.not_tls_by_reason[r]);
        if (c.malformed_by_reason[r] != 0)
            w.sample("sni_malformed_total", {{"reason", reason_name(r)}}, c.malformed_by_reason[r]);
    }

    w.family("sni_classification_seconds", "histogram", "From accept() to the decision.");
    w.histogram("sni_classification_seconds", {}, c.obs.classification);
    w.family("sni_handoff_seconds", "histogram",
             "From accept() to the connection being in a worker's channel.");
    w.histogram("sni_handoff_seconds", {}, c.obs.handoff);

    w.family("sni_bpf_events_total", "counter", "BPF classifier events.");
    const std::pair<std::string_view, std::uint64_t> bpf[] = {
        {"decisions", c.bpf_decisions},
        {"early_decisions", c.bpf_early_decisions},
        {"orphan_decisions", c.bpf_orphan_decisions},
        {"listener_mismatch", c.bpf_listener_mismatch},
        {"not_owned", c.bpf_not_owned},
        {"deferred", c.bpf_deferred}};
    for (const auto &[event, n] : bpf) w.sample("sni_bpf_events_total", {{"event", event}}, n);

    w.family("sni_worker_starts_total", "counter", "Worker processes started.");
    w.sample("sni_worker_starts_total", {}, c.worker_starts);
    w.family("sni_worker_exits_total", "counter", "Worker processes that exited.");
    w.sample("sni_worker_exits_total", {}, c.worker_exits);
    w.family("sni_worker_restarts_total", "counter", "Workers started again after an exit.");
    w.sample("sni_worker_restarts_total", {}, c.obs.worker_restarts);
    w.family("sni_worker_spawn_errors_total", "counter", "Worker processes that failed to start.");
    w.sample("sni_worker_spawn_errors_total", {}, c.worker_spawn_errors);
    w.family("sni_workers", "gauge", "Workers by pool and state (configured, running, ready).");
    for (const auto &p : s.pools) {
        w.sample("sni_workers", {{"pool", p.name}, {"state", "configured"}}, p.workers);
        w.sample("sni_workers", {{"pool", p.name}, {"state", "running"}}, p.running);
        w.sample("sni_workers", {{"pool", p.name}, {"state", "ready"}}, p.ready);
    }

    w.family("sni_workers_draining", "gauge",
             "Workers of earlier configuration generations finishing their connections.");
    w.sample("sni_workers_draining", {}, s.workers_draining);

    w.family("sni_reloads_total", "counter", "Configuration reloads by result.");
    w.sample("sni_reloads_total", {{"result", "ok"}}, c.reloads);
    w.sample("sni_reloads_total", {{"result", "failed"}}, c.reloads_failed);
    w.family("sni_config_generation", "gauge", "Generation of the configuration in force.");
    w.sample("sni_config_generation", {}, s.generation);
    w.family("sni_connections_classifying", "gauge", "Connections the daemon is classifying now.");
    w.sample("sni_connections_classifying", {}, s.classifying);
    w.family("sni_connections_in_workers", "gauge",
             "Connections handed to workers whose close they have not reported yet.");
    w.sample("sni_connections_in_workers", {}, s.in_workers);
    w.family("sni_handoffs_total", "counter", "Connections handed to a worker, by route.");
    for (const auto &[route, n] : s.handoffs_by_route)
        w.sample("sni_handoffs_total", {{"route", route}}, n);
}

void report_metrics(Writer &w, const MetricsSnapshot &s) {
    const std::size_t n = std::min(s.reports.size(), s.routes.size());
    w.family("sni_worker_connections_opened_total", "counter",
             "Connections whose handshakes completed (relay started), by route.");
    for (std::size_t r = 0; r < n; ++r)
        w.sample("sni_worker_connections_opened_total", {{"route", s.routes[r]}},
                 s.reports[r].opened);
    w.family("sni_worker_open_connections", "gauge", "Open connections reported by workers.");
    for (std::size_t r = 0; r < n; ++r)
        w.sample("sni_worker_open_connections", {{"route", s.routes[r]}},
                 r < s.open_by_route.size() ? s.open_by_route[r] : 0);
    w.family("sni_worker_connections_closed_total", "counter",
             "Connections closed by workers, by route and close reason.");
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t k = 1; k < conn_report::kCloseReasonCount; ++k)
            w.sample("sni_worker_connections_closed_total",
                     {{"route", s.routes[r]},
                      {"reason", conn_report::close_reason_name(conn_report::CloseReason(k))}},
                     s.reports[r].closed[k]);

    w.family("sni_tls_handshakes_total", "counter", "Completed TLS handshakes by side and route.");
    for (std::size_t r = 0; r < n; ++r) {
        w.sample("sni_tls_handshakes_total", {{"side", "client"}, {"route", s.routes[r]}},
                 s.reports[r].client_handshakes);
        w.sample("sni_tls_handshakes_total", {{"side", "backend"}, {"route", s.routes[r]}},
                 s.reports[r].backend_handshakes);
    }
    w.family("sni_tls_handshake_failures_total", "counter",
             "Failed TLS handshakes by side, route and reason.");
    using CR = conn_report::CloseReason;
    const std::pair<std::string_view, CR> failures[] = {{"client", CR::kClientHandshake},
                                                        {"backend", CR::kBackendHandshake},
                                                        {"backend", CR::kBackendTimeout}};
    for (std::size_t r = 0; r < n; ++r)
        for (const auto &[side, reason] : failures)
            w.sample("sni_tls_handshake_failures_total",
                     {{"side", side},
                      {"route", s.routes[r]},
                      {"reason", conn_report::close_reason_name(reason)}},
                     s.reports[r].closed[static_cast<std::size_t>(reason)]);

    w.family("sni_tls_versions_total", "counter",
             "Negotiated TLS versions of opened connections by side and route.");
    for (std::size_t r = 0; r < n; ++r)
        for (const auto &[key, v] : s.reports[r].versions)
            w.sample("sni_tls_versions_total",
                     {{"side", key.first}, {"route", s.routes[r]}, {"version", key.second}}, v);
    w.family("sni_tls_ciphers_total", "counter",
             "Negotiated ciphers of opened connections by side and route.");
    for (std::size_t r = 0; r < n; ++r)
        for (const auto &[key, v] : s.reports[r].ciphers)
            w.sample("sni_tls_ciphers_total",
                     {{"side", key.first}, {"route", s.routes[r]}, {"cipher", key.second}}, v);

    w.family("sni_ktls_total", "counter",
             "Opened connections with kernel TLS engaged, by route, leg and direction.");
    const char *legs[] = {"client", "backend"};
    const char *dirs[] = {"tx", "rx"};
    for (std::size_t r = 0; r < n; ++r)
        for (std::size_t l = 0; l < 2; ++l)
            for (std::size_t d = 0; d < 2; ++d)
                w.sample("sni_ktls_total",
                         {{"route", s.routes[r]}, {"leg", legs[l]}, {"direction", dirs[d]}},
                         s.reports[r].ktls[l][d]);

    w.family("sni_bytes_total", "counter", "Bytes relayed by route and direction (at close).");
    for (std::size_t r = 0; r < n; ++r) {
        w.sample("sni_bytes_total", {{"route", s.routes[r]}, {"direction", "client_to_backend"}},
                 s.reports[r].bytes_up);
        w.sample("sni_bytes_total", {{"route", s.routes[r]}, {"direction", "backend_to_client"}},
                 s.reports[r].bytes_down);
    }

    w.family("sni_time_to_backend_seconds", "histogram",
             "From the handoff to the backend's TCP connect, by route.");
    for (std::size_t r = 0; r < n; ++r)
        w.histogram("sni_time_to_backend_seconds", {{"route", s.routes[r]}},
                    s.reports[r].time_to_backend);
    w.family("sni_connection_duration_seconds", "histogram",
             "From the handoff to the close, by route.");
    for (std::size_t r = 0; r < n; ++r)
        w.histogram("sni_connection_duration_seconds", {{"route", s.routes[r]}},
                    s.reports[r].duration);

    // Per-server counts, one family at a time (the text format keeps a family's samples
    // together). `result` is an extra label ("" = none).
    auto per_server = [&](const char *name, const char *result,
                          std::vector<std::uint64_t> RouteReports::*counts) {
        for (std::size_t r = 0; r < n; ++r) {
            const auto &servers =
                r < s.route_servers.size() ? s.route_servers[r] : std::vector<std::string>{};
            const auto &by_server = s.reports[r].*counts;
            for (std::size_t i = 0; i < servers.size(); ++i) {
                const std::uint64_t v = i < by_server.size() ? by_server[i] : 0;
                if (*result == 0)
                    w.sample(name, {{"route", s.routes[r]}, {"server", servers[i]}}, v);
                else
                    w.sample(name,
                             {{"route", s.routes[r]}, {"server", servers[i]}, {"result", result}},
                             v);
            }
        }
    };
    w.family("sni_backend_connect_failures_total", "counter",
             "Failed TCP connects to a backend server, by route and server.");
    per_server("sni_backend_connect_failures_total", "", &RouteReports::connect_failures);
    w.family("sni_backend_passive_ejections_total", "counter",
             "Passive ejections of a backend server (consecutive connect failures).");
    per_server("sni_backend_passive_ejections_total", "", &RouteReports::ejections);
    w.family("sni_backend_health_checks_total", "counter",
             "Active health check probes of a backend server, summed over the workers.");
    per_server("sni_backend_health_checks_total", "passed", &RouteReports::checks_passed);
    per_server("sni_backend_health_checks_total", "failed", &RouteReports::checks_failed);
    w.family("sni_backend_up", "gauge",
             "1 when the active health checks pass in every worker that reported on the server, "
             "0 when one sees it down (servers without active checks are not listed).");
    for (const auto &[key, h] : s.backend_health) {
        const auto [r, i] = key;
        if (r >= n || r >= s.route_servers.size() || i >= s.route_servers[r].size()) continue;
        w.sample("sni_backend_up", {{"route", s.routes[r]}, {"server", s.route_servers[r][i]}},
                 h.down == 0 ? 1 : 0);
    }

    const ReportTotals &t = s.report_totals;
    w.family("sni_reports_total", "counter",
             "Worker connection reports: received, malformed, dropped (channel full).");
    w.sample("sni_reports_total", {{"result", "received"}}, t.received);
    w.sample("sni_reports_total", {{"result", "malformed"}}, t.malformed);
    w.sample("sni_reports_total", {{"result", "dropped"}}, t.dropped_by_workers);
    w.family("sni_worker_lost_connections_total", "counter",
             "Open connections whose worker died before reporting their close.");
    w.sample("sni_worker_lost_connections_total", {}, t.lost_open);
}

}  // namespace

std::string prometheus_label_value(std::string_view value) {
    std::string out;
    out.reserve(value.size());
    for (const char ch : value) {
        if (ch == '\\')
            out += "\\\\";
        else if (ch == '"')
            out += "\\\"";
        else if (ch == '\n')
            out += "\\n";
        else
            out += ch;
    }
    return out;
}

std::string render_prometheus(const MetricsSnapshot &snapshot) {
    Writer w;
    daemon_metrics(w, snapshot);
    report_metrics(w, snapshot);
    return w.take();
}

}  // namespace sni::loader
