#include "ctl/render.hpp"

#include <cstdio>
#include <sstream>

namespace sni::ctl {

namespace {

using control::Json;

std::string str(const Json &j, const char *key) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return "-";
    if (it->is_string()) return it->get<std::string>();
    return it->dump();
}

std::string join(const Json &list) {
    std::string out;
    for (const auto &v : list) {
        if (!out.empty()) out += ",";
        out += v.is_string() ? v.get<std::string>() : v.dump();
    }
    return out.empty() ? "-" : out;
}

std::string status(const Json &d) {
    std::ostringstream o;
    char uptime[32];
    std::snprintf(uptime, sizeof uptime, "%.0fs", d.value("uptime_seconds", 0.0));
    const Json &c = d.value("classifier", Json::object());
    o << "sni-splitterd " << str(d, "version") << "  pid " << str(d, "pid") << "  up " << uptime
      << "  " << str(d, "state") << "\n"
      << "config        " << str(d, "config") << " (generation " << str(d, "generation")
      << ", reloads " << str(d, "reloads") << ", failed " << str(d, "reloads_failed") << ")\n";
    if (const std::string e = str(d, "last_reload_error"); e != "-" && !e.empty())
        o << "last reload   refused: " << e << "\n";
    o << "classifier    " << str(c, "name") << " (requested " << str(c, "requested")
      << "): " << str(c, "why") << "\n";
    const Json &k = d.value("ktls", Json::object());
    o << "kTLS          " << (k.value("available", false) ? "available" : "not available") << " ("
      << str(k, "detail") << ")\n";
    o << "classifying   " << str(d, "classifying") << " connections\n";
    o << "pools:\n";
    for (const auto &p : d.value("pools", Json::array())) {
        o << "  " << str(p, "name") << "  user " << str(p, "user") << "  generation "
          << str(p, "generation") << "  " << str(p, "state") << "  pids";
        for (const auto &w : p.value("workers", Json::array())) o << ' ' << str(w, "pid");
        o << "\n";
    }
    return o.str();
}

std::string routes(const Json &d) {
    std::ostringstream o;
    char line[512];
    std::snprintf(line, sizeof line, "%-16s %-10s %-12s %-10s %10s  %-8s %s\n", "ROUTE", "LISTENER",
                  "MODE", "POOL", "HANDED_OFF", "DRAINED", "SERVER_NAMES");
    o << line;
    for (const auto &r : d.value("routes", Json::array())) {
        std::snprintf(line, sizeof line, "%-16s %-10s %-12s %-10s %10s  %-8s %s\n",
                      str(r, "name").c_str(), str(r, "listener").c_str(), str(r, "mode").c_str(),
                      str(r, "pool").c_str(), str(r, "handed_off").c_str(),
                      r.value("drained", false) ? "yes" : "no",
                      join(r.value("server_names", Json::array())).c_str());
        o << line;
        for (const auto &b : r.value("backends", Json::array())) {
            o << "    backend " << str(b, "address") << " weight " << str(b, "weight") << " health "
              << str(b, "health");
            if (b.contains("workers_reporting"))
                o << " (down in " << str(b, "workers_down") << "/" << str(b, "workers_reporting")
                  << " workers)";
            if (b.contains("reason")) o << ": " << str(b, "reason");
            o << "\n";
        }
    }
    return o.str();
}

// "TLSv1.3 TLS_AES_128_GCM_SHA256 ktls tx+rx" for one leg of a connection.
std::string leg_text(const Json &leg) {
    std::string v = str(leg, "version");
    if (v.empty() || v == "-") return "plain";
    std::string out = v + " " + str(leg, "cipher");
    const bool tx = leg.value("ktls_tx", false), rx = leg.value("ktls_rx", false);
    if (tx || rx) out += std::string(" ktls ") + (tx && rx ? "tx+rx" : tx ? "tx" : "rx");
    return out;
}

// The second line of a connection a worker reported (the ALPN was escaped by the daemon).
std::string worker_details(const Json &c) {
    std::string alpn = str(c, "alpn");
    return "    backend " + str(c, "backend") + " age_ms " + str(c, "age_ms") + " alpn " +
           (alpn.empty() ? "-" : alpn) +
           " client: " + leg_text(c.value("client_tls", Json::object())) +
           " backend: " + leg_text(c.value("backend_tls", Json::object())) + "\n";
}

std::string conns(const Json &d) {
    std::ostringstream o;
    char line[512];
    std::snprintf(line, sizeof line, "%-24s %-24s %-12s %-14s %-12s %-10s %12s %12s\n", "CLIENT",
                  "LOCAL", "TCP", "PHASE", "ROUTE", "LISTENER", "RECV_Q", "SEND_Q");
    o << line;
    for (const auto &c : d.value("connections", Json::array())) {
        std::snprintf(line, sizeof line, "%-24s %-24s %-12s %-14s %-12s %-10s %12s %12s\n",
                      str(c, "client").c_str(), str(c, "local").c_str(),
                      str(c, "tcp_state").c_str(), str(c, "phase").c_str(), str(c, "route").c_str(),
                      str(c, "listener").c_str(), str(c, "recv_queue").c_str(),
                      str(c, "send_queue").c_str());
        o << line;
        if (c.contains("backend")) o << worker_details(c);
    }
    if (d.contains("error")) o << "(sock_diag: " << str(d, "error") << ")\n";
    return o.str();
}

}  // namespace

std::string render_human(const std::string &command, const Json &data) {
    if (command == "status") return status(data);
    if (command == "routes") return routes(data);
    if (command == "conns") return conns(data);
    if (command == "metrics") return data.value("text", std::string());
    if (command == "reload")
        return "reloaded: generation " + str(data, "generation") + ", " + str(data, "routes") +
               " routes, " + str(data, "workers") + " workers\n";
    if (command == "drain") {
        if (data.contains("route")) return "route " + str(data, "route") + " drained\n";
        return "listener " + str(data, "listener") + " drained\n";
    }
    return data.dump(2) + "\n";
}

}  // namespace sni::ctl
