// Everything a worker keeps per route of its pool, built once at start: the client-facing
// SSL_CTX, the backend SSL_CTX and session cache (reencrypt), the resolved server addresses and
// the balancer. Routes of other pools get nothing (their keys are never loaded).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "workers/backend_addrs.hpp"
#include "workers/backend_tls.hpp"
#include "workers/balancer.hpp"
#include "workers/server_tls.hpp"

namespace sni::worker {

struct RouteRuntime {
    std::size_t id = 0;
    const config::Route *route = nullptr;     // into the Config the worker owns
    std::unique_ptr<ServerTls> server_tls;    // reencrypt and terminate
    std::unique_ptr<BackendTls> backend_tls;  // reencrypt
    std::vector<ServerAddress> servers;
    Balancer balancer;

    RouteRuntime(std::size_t route_id, const config::Route &r, std::vector<ServerAddress> addrs);
};

// Indexed by route id; nullptr for routes of other pools. Errors name the route. `ktls`: the
// TLS contexts ask OpenSSL for kTLS (false where the kernel has no tls ULP, so no handshake
// tries a TCP_ULP setsockopt that cannot succeed). `backend_libctx`: the library context of
// the backend legs (CertDecodeCtx; nullptr = the default), which must outlive the routes.
config::Result<std::vector<std::unique_ptr<RouteRuntime>>, std::string> build_routes(
    const config::Config &config, std::string_view pool, bool ktls = true,
    OSSL_LIB_CTX *backend_libctx = nullptr);

}  // namespace sni::worker
