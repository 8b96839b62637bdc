#include "loader/metrics_reports.hpp"

namespace sni::loader {

namespace {

void count_servers(std::vector<std::uint64_t> &by_server, std::uint64_t mask) {
    for (std::size_t i = 0; i < 64 && mask != 0; ++i, mask >>= 1) {
        if ((mask & 1) == 0) continue;
        if (by_server.size() <= i) by_server.resize(i + 1);
        ++by_server[i];
    }
}

}  // namespace

void ReportTable::on_report(std::uint32_t pool, std::uint32_t worker, pid_t pid,
                            const conn_report::Report &r) {
    ++totals_.received;
    WorkerState &w = workers_[{pool, worker}];
    if (r.dropped_reports > w.dropped) {
        w.dropped = r.dropped_reports;
        handed_stale_ = true;  // a "closed" report may be among the dropped ones
    }
    switch (r.event) {
        case conn_report::Event::kReady:
            w.ready = true;
            return;
        case conn_report::Event::kOpened:
            on_opened(w, pool, worker, pid, r);
            return;
        case conn_report::Event::kClosed:
            on_closed(w, r);
            return;
        case conn_report::Event::kHealth:
            on_health(w, r);
            return;
    }
}

void ReportTable::on_opened(WorkerState &w, std::uint32_t pool, std::uint32_t worker, pid_t pid,
                            const conn_report::Report &r) {
    OpenConnView v;
    v.pool = pool;
    v.worker = worker;
    v.pid = pid;
    v.conn_id = r.conn_id;
    v.route_id = r.route_id;
    v.listener_id = r.listener_id;
    v.client_addr = r.client_addr.view();
    v.backend_addr = r.backend_addr.view();
    v.alpn = r.alpn.view();
    v.client_version = r.client.version.view();
    v.client_cipher = r.client.cipher.view();
    v.backend_version = r.backend.version.view();
    v.backend_cipher = r.backend.cipher.view();
    v.ktls_client_tx = r.client.ktls_tx != 0;
    v.ktls_client_rx = r.client.ktls_rx != 0;
    v.ktls_backend_tx = r.backend.ktls_tx != 0;
    v.ktls_backend_rx = r.backend.ktls_rx != 0;
    v.accepted_ns = r.accepted_ns;
    w.open[r.conn_id] = std::move(v);

    if (r.route_id >= routes_.size()) return;
    RouteReports &rr = routes_[r.route_id];
    ++rr.opened;
    const std::pair<const char *, const conn_report::LegInfo *> legs[] = {{"client", &r.client},
                                                                          {"backend", &r.backend}};
    for (std::size_t i = 0; i < 2; ++i) {
        const auto &[side, leg] = legs[i];
        if (!leg->version.view().empty()) ++rr.versions[{side, std::string(leg->version.view())}];
        if (!leg->cipher.view().empty()) ++rr.ciphers[{side, std::string(leg->cipher.view())}];
        rr.ktls[i][0] += leg->ktls_tx;
        rr.ktls[i][1] += leg->ktls_rx;
    }
    if (r.backend_connected_us != 0) rr.time_to_backend.observe_us(r.backend_connected_us);
}

void ReportTable::on_closed(WorkerState &w, const conn_report::Report &r) {
    w.open.erase(r.conn_id);
    w.handed.erase(r.conn_id);
    if (r.route_id >= routes_.size()) return;
    RouteReports &rr = routes_[r.route_id];
    ++rr.closed[static_cast<std::size_t>(r.reason)];
    rr.bytes_up += r.bytes_up;
    rr.bytes_down += r.bytes_down;
    rr.client_handshakes += !r.client.version.view().empty();
    rr.backend_handshakes += !r.backend.version.view().empty();
    rr.duration.observe_us(r.duration_us);
    count_servers(rr.connect_failures, r.failed_servers);
    count_servers(rr.ejections, r.ejected_servers);
}

// The worker sends running totals: the counters move by the difference to its previous report.
void ReportTable::on_health(WorkerState &w, const conn_report::Report &r) {
    if (r.backend_server < 0) return;
    const auto server = static_cast<std::uint32_t>(r.backend_server);
    conn_report::Report &last = w.health[{r.route_id, server}];
    if (r.route_id < routes_.size() && server < 64) {
        RouteReports &rr = routes_[r.route_id];
        if (rr.checks_passed.size() <= server) rr.checks_passed.resize(server + 1);
        if (rr.checks_failed.size() <= server) rr.checks_failed.resize(server + 1);
        if (r.checks_passed >= last.checks_passed)
            rr.checks_passed[server] += r.checks_passed - last.checks_passed;
        if (r.checks_failed >= last.checks_failed)
            rr.checks_failed[server] += r.checks_failed - last.checks_failed;
    }
    last = r;
}

void ReportTable::worker_gone(std::uint32_t pool, std::uint32_t worker) {
    const auto it = workers_.find({pool, worker});
    if (it == workers_.end()) return;
    totals_.lost_open += it->second.open.size();
    dropped_by_gone_ += it->second.dropped;
    workers_.erase(it);
}

void ReportTable::on_handed(std::uint32_t pool, std::uint32_t worker, const HandedConn &conn) {
    workers_[{pool, worker}].handed[conn.conn_id] = conn;
}

void ReportTable::forget_handed_if(const std::function<bool(const AddrPair &)> &gone) {
    for (auto &[key, w] : workers_)
        std::erase_if(w.handed, [&](const auto &entry) { return gone(entry.second.addr); });
    handed_stale_ = false;
}

std::vector<HandedConn> ReportTable::handed_connections() const {
    std::vector<HandedConn> out;
    for (const auto &[key, w] : workers_)
        for (const auto &[id, c] : w.handed) out.push_back(c);
    return out;
}

std::size_t ReportTable::handed_count() const {
    std::size_t n = 0;
    for (const auto &[key, w] : workers_) n += w.handed.size();
    return n;
}

bool ReportTable::worker_ready(std::uint32_t pool, std::uint32_t worker) const {
    const auto it = workers_.find({pool, worker});
    return it != workers_.end() && it->second.ready;
}

std::vector<OpenConnView> ReportTable::open_connections() const {
    std::vector<OpenConnView> out;
    for (const auto &[key, w] : workers_)
        for (const auto &[id, v] : w.open) out.push_back(v);
    return out;
}

std::map<std::pair<std::uint32_t, std::uint32_t>, ServerHealth> ReportTable::health() const {
    std::map<std::pair<std::uint32_t, std::uint32_t>, ServerHealth> out;
    for (const auto &[key, w] : workers_) {
        for (const auto &[server, r] : w.health) {
            ServerHealth &h = out[server];
            ++h.reporting;
            if (r.server_down == 0) continue;
            ++h.down;
            h.reason = r.health_reason.view();
        }
    }
    return out;
}

ReportTotals ReportTable::totals() const {
    ReportTotals t = totals_;
    t.dropped_by_workers = dropped_by_gone_;
    for (const auto &[key, w] : workers_) t.dropped_by_workers += w.dropped;
    return t;
}

void merge_into(RouteReports &into, const RouteReports &from) {
    into.opened += from.opened;
    for (std::size_t i = 0; i < into.closed.size(); ++i) into.closed[i] += from.closed[i];
    into.bytes_up += from.bytes_up;
    into.bytes_down += from.bytes_down;
    for (const auto &[k, v] : from.versions) into.versions[k] += v;
    for (const auto &[k, v] : from.ciphers) into.ciphers[k] += v;
    into.client_handshakes += from.client_handshakes;
    into.backend_handshakes += from.backend_handshakes;
    for (std::size_t l = 0; l < 2; ++l)
        for (std::size_t d = 0; d < 2; ++d) into.ktls[l][d] += from.ktls[l][d];
    into.time_to_backend.merge(from.time_to_backend);
    into.duration.merge(from.duration);
    // Server indexes are positions in a route's server list, which a reload may change: the
    // per-server counts of an older generation are not carried over.
}

}  // namespace sni::loader
