#include "common/config_validate.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_enums.hpp"
#include "common/config_parse.hpp"
#include "common/config_suggest.hpp"
#include "common/config_values.hpp"
#include "common/server_names.hpp"

namespace sni::config {
namespace {

std::string quote(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

std::string line_of(const Diagnostics &d, const std::string &path) {
    const int line = d.locate(path).line;
    return line > 0 ? " on line " + std::to_string(line) : std::string();
}

template <typename T>
std::vector<std::string_view> names_of(const std::vector<T> &items) {
    std::vector<std::string_view> names;
    for (const auto &item : items) names.push_back(item.name);
    return names;
}

template <typename T>
std::optional<std::size_t> index_of(const std::vector<T> &items, std::string_view name) {
    for (std::size_t i = 0; i < items.size(); ++i)
        if (items[i].name == name) return i;
    return std::nullopt;
}

template <typename T>
void check_unique_names(Diagnostics &d, const std::vector<T> &items, std::string_view section,
                        std::string_view what) {
    std::map<std::string_view, std::size_t> seen;
    for (std::size_t i = 0; i < items.size(); ++i) {
        if (items[i].name.empty()) continue;
        auto [it, inserted] = seen.emplace(items[i].name, i);
        if (inserted) continue;
        const std::string first = child_path(index_path(section, it->second), "name");
        d.error(child_path(index_path(section, i), "name"),
                "duplicate " + std::string(what) + " name " + quote(items[i].name) +
                    " (already used by " + index_path(section, it->second) + line_of(d, first) +
                    ")");
    }
}

void check_binds(const Config &config, Diagnostics &d) {
    std::map<std::string, std::string> seen;  // address -> path of first use
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
        const Listener &listener = config.listeners[i];
        const std::string binds = child_path(index_path("listeners", i), "bind");
        for (std::size_t j = 0; j < listener.bind.size(); ++j) {
            const std::string address = to_string(listener.bind[j]);
            const std::string path = index_path(binds, j);
            auto [it, inserted] = seen.emplace(address, path);
            if (!inserted)
                d.error(path, "address " + address + " is already bound by " + it->second +
                                  line_of(d, it->second));
        }
    }
}

void check_listener(const Config &config, Diagnostics &d, std::size_t i) {
    const Listener &listener = config.listeners[i];
    const std::string path = index_path("listeners", i);
    const std::string default_route = child_path(path, "default_route");
    if (!listener.default_route.empty()) {
        auto r = index_of(config.routes, listener.default_route);
        if (!r) {
            const auto names = names_of(config.routes);
            d.error(default_route, "there is no route named " + quote(listener.default_route) +
                                       did_you_mean(listener.default_route, names));
        } else if (const Route &route = config.routes[*r];
                   !route.listener.empty() && route.listener != listener.name) {
            d.error(default_route, "route " + quote(route.name) + " belongs to listener " +
                                       quote(route.listener) + ", not to " + quote(listener.name) +
                                       " (a default route must be on the same listener)");
        }
    }
    const std::string unknown_sni = child_path(path, "unknown_sni");
    if (listener.unknown_sni == UnknownSni::kDefault && listener.default_route.empty() &&
        d.present(unknown_sni) && !d.failed(unknown_sni) && !d.failed(default_route)) {
        d.error(unknown_sni,
                "\"default\" needs a default_route on this listener (set default_route, or use "
                "unknown_sni: reject)");
    }
}

// Server names must be unique per listener (exact names and wildcards separately: an exact
// name and a wildcard covering it do not overlap, the exact name wins).
void check_server_names(const Config &config, Diagnostics &d) {
    std::map<std::string_view, ServerNameTable> tables;  // by listener name
    for (std::size_t i = 0; i < config.routes.size(); ++i) {
        const Route &route = config.routes[i];
        if (route.listener.empty()) continue;
        ServerNameTable &table = tables[route.listener];
        const std::string names = child_path(index_path("routes", i), "server_names");
        // Parsing drops invalid entries, so map entries back to their list positions.
        std::size_t item = 0;
        for (const std::string &name : route.server_names) {
            while (d.failed(index_path(names, item))) ++item;
            const std::string path = index_path(names, item++);
            const auto added = table.add(name, static_cast<RouteId>(i));
            if (added.status != ServerNameTable::AddStatus::kDuplicate) continue;
            if (added.existing == i) {
                d.error(path, quote(name) + " is listed twice in this route");
            } else {
                const Route &owner = config.routes[added.existing];
                d.error(path, quote(name) + " is already used by route " + quote(owner.name) +
                                  " (routes[" + std::to_string(added.existing) + "]" +
                                  line_of(d, index_path("routes", added.existing)) +
                                  ") on listener " + quote(route.listener));
            }
        }
    }
}

bool is_default_route(const Config &config, const Route &route) {
    for (const Listener &listener : config.listeners)
        if (listener.default_route == route.name && listener.name == route.listener) return true;
    return false;
}

void check_versions(Diagnostics &d, const std::string &path, TlsVersion min, TlsVersion max,
                    std::optional<int> security_level) {
    const std::string min_path = child_path(path, "min_version");
    const std::string max_path = child_path(path, "max_version");
    const std::string level_path = child_path(path, "security_level");
    if (d.failed(min_path) || d.failed(max_path) || d.failed(level_path)) return;
    auto shown = [&](const std::string &p, TlsVersion v) {
        return quote(to_string(v)) + (d.present(p) ? "" : " (the default)");
    };
    if (min > max) {
        d.error(d.present(min_path) ? min_path : max_path, "min_version " + shown(min_path, min) +
                                                               " is higher than max_version " +
                                                               shown(max_path, max));
        return;
    }
    if (min <= TlsVersion::kTls1_1 && security_level != 0) {
        d.error(d.present(min_path) ? min_path : path,
                "min_version " + shown(min_path, min) +
                    " allows TLS 1.0/1.1, which OpenSSL 3 only negotiates at security level 0: "
                    "add \"security_level: 0\" next to it (this also allows SHA-1 signatures and "
                    "small keys), or raise min_version to \"1.2\"");
    }
}

void check_mode(Diagnostics &d, const Route &route, const std::string &path) {
    const std::string mode_path = child_path(path, "mode");
    if (d.failed(mode_path)) return;
    const std::string mode = quote(to_string(route.mode));
    const std::string tls_path = child_path(path, "tls");
    if (route.mode == RouteMode::kPassthrough) {
        if (d.present(tls_path))
            d.error(tls_path,
                    "\"tls\" is not allowed for mode \"passthrough\": the client's TLS is relayed "
                    "untouched to the backend, which holds the certificate");
    } else if (!d.present(tls_path) && !d.failed(tls_path)) {
        d.error(path, "missing required key \"tls\": mode " + mode +
                          " terminates the client's TLS, so it needs a certificate");
    }
    if (route.mode != RouteMode::kReencrypt) {
        const std::string why = route.mode == RouteMode::kTerminate
                                    ? "the worker speaks plain TCP to the backend"
                                    : "the worker relays the client's TLS unchanged";
        for (std::string_view key : kBackendTlsKeys) {
            const std::string key_path = child_path(path, "backend." + std::string(key));
            if (d.present(key_path))
                d.error(key_path, quote(key) + " is not allowed for mode " + mode +
                                      ": it configures TLS to the backend, but in this mode " +
                                      why + " (only mode \"reencrypt\" speaks TLS to it)");
        }
        const auto &check = route.backend.health_check;
        const std::string type_path = child_path(path, "backend.health_check.type");
        if (check && check->type == HealthCheckType::kTls && !d.failed(type_path))
            d.error(type_path,
                    "health check type \"tls\" is only available for mode \"reencrypt\" (it uses "
                    "the route's backend TLS settings); use type \"tcp\"");
    }
}

void check_route(const Config &config, Diagnostics &d, std::size_t i) {
    const Route &route = config.routes[i];
    const std::string path = index_path("routes", i);

    if (!route.listener.empty() && !d.failed("listeners") &&
        !index_of(config.listeners, route.listener)) {
        const auto names = names_of(config.listeners);
        d.error(child_path(path, "listener"), "there is no listener named " +
                                                  quote(route.listener) +
                                                  did_you_mean(route.listener, names));
    }
    const std::string pool_path = child_path(path, "pool");
    if (!d.failed(pool_path) && !d.failed("pools") && !index_of(config.pools, route.pool)) {
        const auto names = names_of(config.pools);
        if (d.present(pool_path))
            d.error(pool_path, "there is no pool named " + quote(route.pool) +
                                   did_you_mean(route.pool, names));
        else
            d.error(path, "the route has no \"pool\", and the default pool " + quote(route.pool) +
                              " is not defined in \"pools\"");
    }
    const std::string names_path = child_path(path, "server_names");
    if (route.server_names.empty() && !d.present(index_path(names_path, 0)) &&
        !d.failed(names_path) && !route.name.empty() && !route.listener.empty() &&
        !is_default_route(config, route)) {
        d.error(d.present(names_path) ? names_path : path,
                "the route has no server_names and is not the default_route of listener " +
                    quote(route.listener) + ", so no connection can reach it");
    }

    check_mode(d, route, path);
    if (route.tls)
        check_versions(d, child_path(path, "tls"), route.tls->min_version, route.tls->max_version,
                       route.tls->security_level);
    if (route.backend.tls)
        check_versions(d, child_path(path, "backend"), route.backend.tls->min_version,
                       route.backend.tls->max_version, route.backend.tls->security_level);
    if (const auto &check = route.backend.health_check) {
        const std::string check_path = child_path(path, "backend.health_check");
        if (check->timeout > check->interval && !d.failed(child_path(check_path, "timeout")) &&
            !d.failed(child_path(check_path, "interval")))
            d.error(
                child_path(check_path,
                           d.present(child_path(check_path, "timeout")) ? "timeout" : "interval"),
                "the health-check timeout (" + std::to_string(check->timeout.count()) +
                    "ms) is longer than its interval (" + std::to_string(check->interval.count()) +
                    "ms)");
    }
}

}  // namespace

void validate_config(const Config &config, Diagnostics &d) {
    check_unique_names(d, config.listeners, "listeners", "listener");
    check_unique_names(d, config.routes, "routes", "route");
    check_unique_names(d, config.pools, "pools", "pool");
    check_binds(config, d);
    for (std::size_t i = 0; i < config.listeners.size(); ++i) check_listener(config, d, i);
    for (std::size_t i = 0; i < config.routes.size(); ++i) check_route(config, d, i);
    check_server_names(config, d);
    if (config.passthrough_relay == PassthroughRelay::kSockmap &&
        config.classifier == Classifier::kUserspace)
        d.error("passthrough_relay",
                "\"sockmap\" needs the BPF classifier (its maps and programs), but classifier is "
                "\"userspace\": use \"auto\" or \"splice\"");
}

}  // namespace sni::config
