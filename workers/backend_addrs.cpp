#include "workers/backend_addrs.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <cstring>

namespace sni::worker {

namespace {

std::string configured_text(const config::SocketAddress &a) {
    const bool v6 = a.kind == config::AddressKind::kIpv6;
    return (v6 ? "[" + a.host + "]" : a.host) + ":" + std::to_string(a.port);
}

ServerAddress resolve(const config::SocketAddress &a) {
    ServerAddress out;
    out.text = configured_text(a);
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    if (a.kind != config::AddressKind::kHostname) hints.ai_flags = AI_NUMERICHOST;
    addrinfo *res = nullptr;
    const std::string port = std::to_string(a.port);
    const int rc = ::getaddrinfo(a.host.c_str(), port.c_str(), &hints, &res);
    if (rc != 0 || res == nullptr) {
        out.error = rc != 0 ? ::gai_strerror(rc) : "no address";
        return out;
    }
    std::memcpy(&out.addr, res->ai_addr, res->ai_addrlen);
    out.len = res->ai_addrlen;
    ::freeaddrinfo(res);
    return out;
}

}  // namespace

std::vector<ServerAddress> resolve_servers(const std::vector<config::BackendServer> &servers) {
    std::vector<ServerAddress> out;
    out.reserve(servers.size());
    for (const auto &s : servers) out.push_back(resolve(s.address));
    return out;
}

std::string address_text(const sockaddr_storage &addr, socklen_t len) {
    char host[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
        const auto &a = reinterpret_cast<const sockaddr_in &>(addr);
        ::inet_ntop(AF_INET, &a.sin_addr, host, sizeof host);
        return std::string(host) + ":" + std::to_string(ntohs(a.sin_port));
    }
    if (addr.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        const auto &a = reinterpret_cast<const sockaddr_in6 &>(addr);
        ::inet_ntop(AF_INET6, &a.sin6_addr, host, sizeof host);
        return "[" + std::string(host) + "]:" + std::to_string(ntohs(a.sin6_port));
    }
    return "-";
}

}  // namespace sni::worker
