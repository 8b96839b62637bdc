// Binding the configured listener addresses: one non-blocking TCP listening socket per bind
// address (IPv4 or IPv6, SO_REUSEADDR; IPv6 sockets are IPV6_V6ONLY so [::]:p and 0.0.0.0:p
// can coexist). An interface bind ("eth0:443") is resolved through rtnetlink to the interface's
// addresses (IPv4 and global/unique-local IPv6; link-local ones are skipped), one socket each.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/fd.hpp"

namespace sni::loader {

struct ListenerSocket {
    std::uint32_t listener_id = 0;  // index in config.listeners
    std::string address;            // as configured, for logs ("127.0.0.1:443")
    std::string interface_bind;     // the interface bind it came from ("eth0:443"), else ""
    sockaddr_storage local{};       // the bound address (getsockname)
    socklen_t local_len = 0;
    // Bound to 0.0.0.0 or ::: each accepted socket's own local address must be asked for.
    // Otherwise `local` is every accepted socket's local address.
    bool wildcard = false;
    UniqueFd fd;
};

// The concrete addresses of one configured bind address: itself, or an interface's addresses.
config::Result<std::vector<config::SocketAddress>, std::string> resolve_bind(
    const config::SocketAddress &address);

// Marks a socket bound for one of an interface's addresses: "eth0:443 (10.0.0.1:443)".
void label_interface_socket(ListenerSocket &socket, const config::SocketAddress &interface_bind);

// All or nothing: the first failure is returned (and every socket bound so far closed).
config::Result<std::vector<ListenerSocket>, std::string> bind_listeners(
    const config::Config &config);

// One listening socket (non-blocking, SO_REUSEADDR) on an IPv4/IPv6 address; also used for
// the metrics endpoint.
config::Result<ListenerSocket, std::string> bind_one(std::uint32_t listener_id,
                                                     const config::SocketAddress &a);

// "127.0.0.1:443" / "[::1]:443" for a sockaddr; "?" for other families.
std::string sockaddr_to_string(const sockaddr_storage &addr);

}  // namespace sni::loader
