// Daemon: the commands of the control socket (sni-ctl). Each answers with JSON data
// (common/control_protocol.hpp); `metrics` answers with the Prometheus text in data.text.
#include <unistd.h>

#include <set>

#include "common/config_enums.hpp"
#include "common/config_values.hpp"
#include "loader/daemon.hpp"
#include "loader/metrics_render.hpp"
#include "loader/sock_diag.hpp"

namespace sni::loader {

namespace {

using control::Json;

// A sock_diag socket's key, the text to_string(AddrPair) makes for the same connection.
std::string pair_key(const DiagConn &d) {
    return d.client + "|" + d.local;
}

const char *state_name(ConnState s) {
    switch (s) {
        case ConnState::kClassifying:
            return "classifying";
        case ConnState::kReading:
            return "reading_hello";
        case ConnState::kDraining:
            return "leaving_kernel";
        case ConnState::kDeferred:
            return "deferred_parse";
    }
    return "?";
}

// What the worker reported about an open connection (OpenConnView), as the `conns` fields.
void add_worker_fields(Json &j, const OpenConnView &v, std::uint64_t now_ns) {
    auto leg = [](const std::string &version, const std::string &cipher, bool tx, bool rx) {
        return Json{{"version", version}, {"cipher", cipher}, {"ktls_tx", tx}, {"ktls_rx", rx}};
    };
    j["worker"] = {{"pool", v.pool}, {"index", v.worker}, {"pid", v.pid}};
    j["backend"] = v.backend_addr;
    j["alpn"] = log::escape(v.alpn);
    j["client_tls"] = leg(v.client_version, v.client_cipher, v.ktls_client_tx, v.ktls_client_rx);
    j["backend_tls"] =
        leg(v.backend_version, v.backend_cipher, v.ktls_backend_tx, v.ktls_backend_rx);
    if (v.accepted_ns != 0 && now_ns >= v.accepted_ns)
        j["age_ms"] = (now_ns - v.accepted_ns) / 1000000;
}

}  // namespace

std::string Daemon::handle_control(const control::Request &request) {
    const std::string &cmd = request.command;
    log_.info("control command", {log::kv("command", cmd)});
    if (cmd == "status") return control::encode_ok(cmd_status());
    if (cmd == "routes") return control::encode_ok(cmd_routes());
    if (cmd == "conns") return control::encode_ok(cmd_conns());
    if (cmd == "metrics") return control::encode_ok(Json{{"text", cmd_metrics()}});
    if (cmd == "reload") {
        auto r = reload("sni-ctl");
        if (!r) return control::encode_error("refused", r.error());
        return control::encode_ok(r.value());
    }
    if (cmd == "drain") {
        auto r = cmd_drain(request.args);
        if (!r) return control::encode_error("refused", r.error());
        return control::encode_ok(r.value());
    }
    return control::encode_error("bad_request", "unknown command \"" + log::escape(cmd) + "\"");
}

Json Daemon::cmd_status() const {
    Json pools = Json::array();
    auto add = [&](const Pools &p, bool draining) {
        for (const auto &v : p.view()) {
            Json workers = Json::array();
            for (const auto &w : v.workers)
                workers.push_back({{"index", w.index}, {"pid", w.pid}, {"queued", w.queued}});
            pools.push_back({{"name", v.name},
                             {"user", v.user},
                             {"generation", p.generation()},
                             {"state", draining ? "draining" : "serving"},
                             {"workers", workers}});
        }
    };
    add(*pools_, stopping_);
    for (const auto &r : retired_) add(*r.pools, true);
    const auto uptime = std::chrono::duration<double>(Clock::now() - started_).count();
    Json j = {{"version", settings_.version},
              {"pid", ::getpid()},
              {"uptime_seconds", uptime},
              {"state", stopping_ ? "stopping" : "running"},
              {"config", settings_.config_path},
              {"generation", generation_},
              {"reloads", counters_.reloads},
              {"reloads_failed", counters_.reloads_failed},
              {"last_reload_error", last_reload_error_},
              {"classifier",
               {{"name", handoff::classifier_name(classifier_.kind)},
                {"requested", config::to_string(settings_.classifier)},
                {"why", classifier_.why}}},
              {"ktls", {{"available", ktls_.available}, {"detail", ktls_.detail}}},
              {"classifying", conns_.size()},
              {"pools", pools}};
    return j;
}

namespace {

// A server's health as the workers of the current generation report it: "unknown" while none
// did (no active checks, or not reported yet), "down" when any of them sees it down.
Json health_json(const std::map<std::pair<std::uint32_t, std::uint32_t>, ServerHealth> &health,
                 std::size_t route, std::size_t server) {
    const auto it =
        health.find({static_cast<std::uint32_t>(route), static_cast<std::uint32_t>(server)});
    if (it == health.end()) return {{"health", "unknown"}};
    const ServerHealth &h = it->second;
    Json j = {{"health", h.down > 0 ? "down" : "up"},
              {"workers_reporting", h.reporting},
              {"workers_down", h.down}};
    if (h.down > 0) j["reason"] = log::escape(h.reason);
    return j;
}

}  // namespace

Json Daemon::cmd_routes() const {
    Json routes = Json::array();
    const auto health = pools_->reports().health();
    for (std::size_t i = 0; i < config_.routes.size(); ++i) {
        const auto &r = config_.routes[i];
        Json backends = Json::array();
        for (std::size_t s = 0; s < r.backend.servers.size(); ++s) {
            Json b = {{"address", config::to_string(r.backend.servers[s].address)},
                      {"weight", r.backend.servers[s].weight}};
            b.update(health_json(health, i, s));
            backends.push_back(std::move(b));
        }
        const auto handed = route_handed_.find(r.name);
        Json listeners = Json::array();
        for (const auto &l : config_.listeners)
            if (l.name == r.listener)
                for (const auto &a : l.bind) listeners.push_back(config::to_string(a));
        routes.push_back({{"name", r.name},
                          {"listener", r.listener},
                          {"addresses", listeners},
                          {"mode", config::to_string(r.mode)},
                          {"pool", r.pool},
                          {"server_names", r.server_names},
                          {"drained", static_cast<bool>(route_drained_[i])},
                          {"handed_off", handed == route_handed_.end() ? 0 : handed->second},
                          {"backends", backends}});
    }
    Json listeners = Json::array();
    for (std::size_t i = 0; i < config_.listeners.size(); ++i)
        listeners.push_back({{"name", config_.listeners[i].name},
                             {"drained", static_cast<bool>(listener_drained_[i])}});
    return Json{{"generation", generation_}, {"routes", routes}, {"listeners", listeners}};
}

std::set<std::uint16_t> Daemon::listener_ports() const {
    std::set<std::uint16_t> ports;
    for (const auto &s : sockets_) {
        if (s.local.ss_family == AF_INET)
            ports.insert(ntohs(reinterpret_cast<const sockaddr_in *>(&s.local)->sin_port));
        else if (s.local.ss_family == AF_INET6)
            ports.insert(ntohs(reinterpret_cast<const sockaddr_in6 *>(&s.local)->sin6_port));
    }
    return ports;
}

// The kernel's table is the truth: a handed connection that is not in it has closed, and its
// worker dropped the "closed" report (its channel was full).
void Daemon::forget_closed_handed(const std::set<std::string> &in_kernel) {
    const auto gone = [&](const AddrPair &a) { return !in_kernel.contains(to_string(a)); };
    pools_->forget_handed_if(gone);
    for (auto &r : retired_) r.pools->forget_handed_if(gone);
}

void Daemon::prune_stale_handed(Clock::time_point now) {
    bool stale = pools_->reports().handed_may_be_stale();
    for (const auto &r : retired_) stale |= r.pools->reports().handed_may_be_stale();
    if (!stale || now < next_handed_prune_) return;
    next_handed_prune_ = now + kHandedPruneEvery;
    const auto listed = list_tcp_connections(listener_ports());
    if (!listed) return;
    std::set<std::string> in_kernel;
    for (const DiagConn &d : listed.value()) in_kernel.insert(pair_key(d));
    forget_closed_handed(in_kernel);
}

// Every TCP connection on a listener port (sock_diag), joined with what the daemon knows: the
// ones it is classifying now, and the route/listener/generation of the ones it handed off.
Json Daemon::cmd_conns() {
    const std::set<std::uint16_t> ports = listener_ports();
    std::unordered_map<std::string, const Connection *> classifying;
    for (const auto id : conns_.ids()) {
        Connection *c = conns_.find(id);
        if (c) classifying[to_string(make_addr_pair(c->client, c->local))] = c;
    }
    // What the workers reported (connections whose handshakes are done), by conn_id and by
    // client address (for one whose handed entry is gone: a clean-up after dropped reports may
    // forget an entry whose socket a sock_diag dump missed).
    std::vector<OpenConnView> reported = pools_->open_connections();
    for (const auto &r : retired_) {
        auto more = r.pools->open_connections();
        reported.insert(reported.end(), more.begin(), more.end());
    }
    std::unordered_map<std::uint64_t, const OpenConnView *> by_id;
    std::unordered_map<std::string, const OpenConnView *> by_client;
    for (const auto &v : reported) {
        by_id[v.conn_id] = &v;
        by_client[v.client_addr] = &v;
    }
    Json out = Json::array();
    std::string error;
    auto listed = list_tcp_connections(ports);
    if (!listed) error = listed.error();
    // The handed-off connections of every generation by the same text as sock_diag's (made
    // here, not per handoff), with the names of their generation's configuration.
    struct Handed {
        HandedConn conn;
        const Pools *pools;
    };
    std::unordered_map<std::string, Handed> handed;
    auto add_handed = [&](const Pools &p) {
        for (const HandedConn &c : p.handed_connections())
            handed.emplace(to_string(c.addr), Handed{c, &p});
    };
    add_handed(*pools_);
    for (const auto &r : retired_) add_handed(*r.pools);
    std::set<std::string> seen;
    const auto now_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
            .count();
    for (const DiagConn &d : listed ? listed.value() : std::vector<DiagConn>{}) {
        const std::string key = pair_key(d);
        if (!seen.insert(key).second) continue;  // a socket can be in both family dumps
        Json j = {{"client", d.client},         {"local", d.local},
                  {"tcp_state", d.state},       {"recv_queue", d.recv_queue},
                  {"send_queue", d.send_queue}, {"rtt_us", d.rtt_us}};
        if (const auto c = classifying.find(key); c != classifying.end()) {
            j["phase"] = state_name(c->second->state);
            j["listener"] = config_.listeners[c->second->listener_id].name;
            j["conn_id"] = c->second->id;
            j["age_ms"] = (static_cast<std::uint64_t>(now_ns) - c->second->accepted_ns) / 1000000;
        } else if (const auto h = handed.find(key); h != handed.end()) {
            const HandedConn &hc = h->second.conn;
            const Pools &p = *h->second.pools;
            j["phase"] = "worker";
            if (hc.route_id < p.route_names().size()) j["route"] = p.route_names()[hc.route_id];
            if (hc.listener_id < p.listener_names().size())
                j["listener"] = p.listener_names()[hc.listener_id];
            j["generation"] = p.generation();
            j["conn_id"] = hc.conn_id;
            if (const auto v = by_id.find(hc.conn_id); v != by_id.end())
                add_worker_fields(j, *v->second, static_cast<std::uint64_t>(now_ns));
        } else if (const auto v = by_client.find(d.client); v != by_client.end()) {
            j["phase"] = "worker";
            j["conn_id"] = v->second->conn_id;
            if (v->second->route_id < config_.routes.size())
                j["route"] = config_.routes[v->second->route_id].name;
            add_worker_fields(j, *v->second, static_cast<std::uint64_t>(now_ns));
        } else {
            j["phase"] = "unknown";
        }
        out.push_back(std::move(j));
    }
    if (listed) forget_closed_handed(seen);
    Json j = {{"connections", out}};
    if (!error.empty()) j["error"] = error;
    return j;
}

config::Result<Json, std::string> Daemon::cmd_drain(const Json &args) {
    if (stopping_) return config::unexpected(std::string("the daemon is stopping already"));
    if (const auto r = args.find("route"); r != args.end() && r->is_string()) {
        const std::string name = r->get<std::string>();
        for (std::size_t i = 0; i < config_.routes.size(); ++i) {
            if (config_.routes[i].name != name) continue;
            route_drained_[i] = true;
            log_.info("route drained: new connections get an alert", {log::kv("route", name)});
            return Json{{"route", name}, {"drained", true}};
        }
        return config::unexpected("no route named \"" + log::escape(name) + "\"");
    }
    if (const auto l = args.find("listener"); l != args.end() && l->is_string()) {
        const std::string name = l->get<std::string>();
        for (std::uint32_t id = 0; id < config_.listeners.size(); ++id) {
            if (config_.listeners[id].name != name) continue;
            listener_drained_[id] = true;
            std::size_t closed = 0;
            for (auto &s : sockets_) {
                if (s.listener_id != id || !s.fd) continue;
                loop_.remove(s.fd.get());
                s.fd.reset();  // no accept any more: new connections are refused by the kernel
                ++closed;
            }
            log_.info("listener drained: not accepting any more",
                      {log::kv("listener", name), log::kv("sockets_closed", closed)});
            return Json{{"listener", name}, {"drained", true}, {"sockets_closed", closed}};
        }
        return config::unexpected("no listener named \"" + log::escape(name) + "\"");
    }
    return config::unexpected(std::string("drain needs {\"route\": R} or {\"listener\": L}"));
}

std::string Daemon::cmd_metrics() const {
    return render_prometheus(metrics_snapshot());
}

}  // namespace sni::loader
