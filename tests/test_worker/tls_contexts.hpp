// One server SSL_CTX per TLS route (reencrypt/terminate) of the config: the route's first
// certificate and its version range. Passthrough routes have none.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"

namespace sni::test_worker {

struct SslCtxDeleter {
    void operator()(SSL_CTX *c) const { SSL_CTX_free(c); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;

// Indexed by route id; null for passthrough routes.
config::Result<std::vector<SslCtxPtr>, std::string> make_tls_contexts(const config::Config &config);

}  // namespace sni::test_worker
