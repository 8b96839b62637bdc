#include "workers/route_runtime.hpp"

namespace sni::worker {

namespace {

std::vector<std::uint32_t> weights_of(const config::Route &r) {
    std::vector<std::uint32_t> out;
    for (const auto &s : r.backend.servers) out.push_back(s.weight);
    return out;
}

std::vector<bool> usable_of(const std::vector<ServerAddress> &addrs) {
    std::vector<bool> out;
    for (const auto &a : addrs) out.push_back(a.len > 0);
    return out;
}

}  // namespace

RouteRuntime::RouteRuntime(std::size_t route_id, const config::Route &r,
                           std::vector<ServerAddress> addrs)
    : id(route_id),
      route(&r),
      servers(std::move(addrs)),
      balancer(r.backend.balance, weights_of(r), usable_of(servers)) {}

config::Result<std::vector<std::unique_ptr<RouteRuntime>>, std::string> build_routes(
    const config::Config &config, std::string_view pool, bool ktls, OSSL_LIB_CTX *backend_libctx) {
    std::vector<std::unique_ptr<RouteRuntime>> out(config.routes.size());
    for (std::size_t i = 0; i < config.routes.size(); ++i) {
        const config::Route &r = config.routes[i];
        if (r.pool != pool) continue;
        auto rt = std::make_unique<RouteRuntime>(i, r, resolve_servers(r.backend.servers));
        if (r.mode != config::RouteMode::kPassthrough) {
            auto server = ServerTls::create(r, ktls);
            if (!server) return config::unexpected(server.error());
            rt->server_tls = std::move(server).value();
        }
        if (r.mode == config::RouteMode::kReencrypt) {
            auto backend = BackendTls::create(r, {}, ktls, backend_libctx);
            if (!backend) return config::unexpected(backend.error());
            rt->backend_tls = std::move(backend).value();
        }
        out[i] = std::move(rt);
    }
    return out;
}

}  // namespace sni::worker
