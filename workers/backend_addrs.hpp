// Backend server addresses, turned into socket addresses once at start. Host names are
// resolved here with getaddrinfo (the worker's loop never blocks on DNS); a name that does
// not resolve leaves its server unusable for this worker's lifetime.
#pragma once

#include <sys/socket.h>

#include <string>
#include <vector>

#include "common/config_types.hpp"

namespace sni::worker {

struct ServerAddress {
    sockaddr_storage addr{};
    socklen_t len = 0;  // 0 = unusable (see error)
    std::string text;   // as configured, "host:port" / "[v6]:port"
    std::string error;
};

std::vector<ServerAddress> resolve_servers(const std::vector<config::BackendServer> &servers);

// "1.2.3.4:5" / "[::1]:5" of a socket address ("-" for other families).
std::string address_text(const sockaddr_storage &addr, socklen_t len);

}  // namespace sni::worker
