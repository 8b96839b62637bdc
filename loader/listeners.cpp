#include "loader/listeners.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "common/config_values.hpp"
#include "loader/interface_addresses.hpp"

namespace sni::loader {

config::Result<ListenerSocket, std::string> bind_one(std::uint32_t listener_id,
                                                     const config::SocketAddress &a) {
    const std::string text = config::to_string(a);
    auto fail = [&](std::string what) {
        return config::unexpected("listener address " + text + ": " + std::move(what));
    };
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = 0;
    switch (a.kind) {
        case config::AddressKind::kIpv4: {
            auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
            sin->sin_family = AF_INET;
            sin->sin_port = htons(a.port);
            if (::inet_pton(AF_INET, a.host.c_str(), &sin->sin_addr) != 1)
                return fail("not an IPv4 address");
            len = sizeof(sockaddr_in);
            family = AF_INET;
            break;
        }
        case config::AddressKind::kIpv6: {
            auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
            sin6->sin6_family = AF_INET6;
            sin6->sin6_port = htons(a.port);
            if (::inet_pton(AF_INET6, a.host.c_str(), &sin6->sin6_addr) != 1)
                return fail("not an IPv6 address");
            len = sizeof(sockaddr_in6);
            family = AF_INET6;
            break;
        }
        case config::AddressKind::kInterface:
            return fail("an interface must be resolved to its addresses first");
        case config::AddressKind::kHostname:
            return fail("a host name cannot be bound");
    }

    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return fail(std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0)
        return fail(std::string("SO_REUSEADDR: ") + std::strerror(errno));
    // Accepted sockets inherit TCP_NODELAY from their listener: the workers rely on it (the
    // handoff contract, common/handoff.hpp) instead of setting it on every connection.
    if (::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
        return fail(std::string("TCP_NODELAY: ") + std::strerror(errno));
    if (family == AF_INET6 &&
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0)
        return fail(std::string("IPV6_V6ONLY: ") + std::strerror(errno));
    if (::bind(fd.get(), reinterpret_cast<const sockaddr *>(&ss), len) != 0)
        return fail(std::string("bind: ") + std::strerror(errno));
    if (::listen(fd.get(), SOMAXCONN) != 0)
        return fail(std::string("listen: ") + std::strerror(errno));

    ListenerSocket ls;
    ls.listener_id = listener_id;
    ls.address = text;
    ls.local_len = sizeof ls.local;
    if (::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&ls.local), &ls.local_len) != 0)
        return fail(std::string("getsockname: ") + std::strerror(errno));
    if (family == AF_INET)
        ls.wildcard = reinterpret_cast<const sockaddr_in *>(&ss)->sin_addr.s_addr == INADDR_ANY;
    else
        ls.wildcard =
            IN6_IS_ADDR_UNSPECIFIED(&reinterpret_cast<const sockaddr_in6 *>(&ss)->sin6_addr);
    ls.fd = std::move(fd);
    return ls;
}

config::Result<std::vector<config::SocketAddress>, std::string> resolve_bind(
    const config::SocketAddress &address) {
    if (address.kind != config::AddressKind::kInterface) return std::vector{address};
    auto addrs = interface_addresses(address.host);
    if (!addrs)
        return config::unexpected("listener address " + config::to_string(address) + ": " +
                                  addrs.error());
    std::vector<config::SocketAddress> out;
    for (const auto &a : *addrs) {
        if (a.scope_id != 0) continue;  // link-local IPv6: not reachable through a balancer
        out.push_back(
            {a.family == AF_INET ? config::AddressKind::kIpv4 : config::AddressKind::kIpv6, a.text,
             address.port});
    }
    if (out.empty())
        return config::unexpected("listener address " + config::to_string(address) +
                                  ": the interface has no usable address");
    return out;
}

void label_interface_socket(ListenerSocket &socket, const config::SocketAddress &interface_bind) {
    socket.interface_bind = config::to_string(interface_bind);
    socket.address = socket.interface_bind + " (" + socket.address + ")";
}

config::Result<std::vector<ListenerSocket>, std::string> bind_listeners(
    const config::Config &config) {
    std::vector<ListenerSocket> out;
    for (std::uint32_t id = 0; id < config.listeners.size(); ++id) {
        for (const auto &configured : config.listeners[id].bind) {
            auto resolved = resolve_bind(configured);
            if (!resolved)
                return config::unexpected("listener " + config.listeners[id].name + ": " +
                                          std::move(resolved).error());
            for (const auto &address : *resolved) {
                auto bound = bind_one(id, address);
                if (!bound)
                    return config::unexpected("listener " + config.listeners[id].name + ": " +
                                              std::move(bound).error());
                if (configured.kind == config::AddressKind::kInterface)
                    label_interface_socket(*bound, configured);
                out.push_back(std::move(bound).value());
            }
        }
    }
    return out;
}

std::string sockaddr_to_string(const sockaddr_storage &addr) {
    char host[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
        const auto *sin = reinterpret_cast<const sockaddr_in *>(&addr);
        ::inet_ntop(AF_INET, &sin->sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(sin->sin_port));
    }
    if (addr.ss_family == AF_INET6) {
        const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(&addr);
        ::inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(sin6->sin6_port));
    }
    return "?";
}

}  // namespace sni::loader
