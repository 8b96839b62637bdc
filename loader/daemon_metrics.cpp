// Daemon: the metrics and health endpoint (metrics.listen) and the snapshot it serves.
#include "common/config_values.hpp"
#include "loader/daemon.hpp"
#include "loader/metrics_render.hpp"

namespace sni::loader {

config::Result<bool, std::string> Daemon::start_metrics_endpoint() {
    if (!config_.metrics.listen) return true;
    auto e = http::Endpoint::create(*config_.metrics.listen, loop_,
                                    [this](std::string_view path) { return serve_http(path); });
    if (!e) return config::unexpected(std::move(e).error());
    http_ = std::move(e).value();
    log_.info("metrics endpoint", {log::kv("addr", http_->local_address())});
    return true;
}

http::Response Daemon::serve_http(std::string_view path) const {
    if (path == "/metrics")
        return {200, std::string(kPrometheusContentType), render_prometheus(metrics_snapshot())};
    if (path == "/healthz") return {200, "text/plain; charset=utf-8", "ok\n"};
    if (path == "/readyz") {
        if (ready()) return {200, "text/plain; charset=utf-8", "ready\n"};
        return {503, "text/plain; charset=utf-8", "not ready\n"};
    }
    return {404, "text/plain; charset=utf-8", "not found\n"};
}

bool Daemon::ready() const {
    if (stopping_ || draining_ || sockets_.empty() || !pools_) return false;
    for (const auto &p : pools_->pool_states())
        if (p.ready == 0) return false;
    return true;
}

MetricsSnapshot Daemon::metrics_snapshot() const {
    MetricsSnapshot s;
    for (const auto &l : config_.listeners) s.listeners.push_back(l.name);
    for (const auto &r : config_.routes) {
        s.routes.push_back(r.name);
        s.route_pools.push_back(r.pool);
        std::vector<std::string> servers;
        for (const auto &srv : r.backend.servers) servers.push_back(config::to_string(srv.address));
        s.route_servers.push_back(std::move(servers));
    }
    s.counters = counters_;
    s.reports = pools_->reports().routes();
    // Counters never go back across reloads: add the generations that are draining or gone.
    std::map<std::string, RouteReports> earlier = reports_history_;
    for (const auto &r : retired_) fold_reports(*r.pools, earlier);
    for (std::size_t i = 0; i < s.reports.size() && i < config_.routes.size(); ++i)
        if (auto it = earlier.find(config_.routes[i].name); it != earlier.end())
            merge_into(s.reports[i], it->second);
    s.report_totals = pools_->reports().totals();
    s.backend_health = pools_->reports().health();
    s.open_by_route.assign(config_.routes.size(), 0);
    for (const auto &c : pools_->open_connections())
        if (c.route_id < s.open_by_route.size()) ++s.open_by_route[c.route_id];
    for (const auto &p : pools_->pool_states())
        s.pools.push_back({p.name, p.workers, p.running, p.ready});
    s.generation = generation_;
    for (const auto &r : retired_) s.workers_draining += r.pools->running();
    s.classifying = conns_.size();
    s.in_workers = pools_->reports().handed_count();
    for (const auto &r : retired_) s.in_workers += r.pools->reports().handed_count();
    for (const auto &[route, n] : route_handed_) s.handoffs_by_route[route] = n;
    s.ready = ready();
    s.uptime_seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    return s;
}

}  // namespace sni::loader
