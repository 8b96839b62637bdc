#include "loader/addr_pair.hpp"

#include <netinet/in.h>

#include <cstring>

#include "loader/listeners.hpp"

namespace sni::loader {

namespace {

CompactAddr compact(const sockaddr_storage &s) {
    CompactAddr a;
    if (s.ss_family == AF_INET) {
        const auto *sin = reinterpret_cast<const sockaddr_in *>(&s);
        std::memcpy(a.ip.data(), &sin->sin_addr, sizeof sin->sin_addr);
        a.port = ntohs(sin->sin_port);
        a.family = AF_INET;
    } else if (s.ss_family == AF_INET6) {
        const auto *sin6 = reinterpret_cast<const sockaddr_in6 *>(&s);
        std::memcpy(a.ip.data(), &sin6->sin6_addr, sizeof sin6->sin6_addr);
        a.port = ntohs(sin6->sin6_port);
        a.family = AF_INET6;
    }
    return a;
}

sockaddr_storage expand(const CompactAddr &a) {
    sockaddr_storage s{};
    if (a.family == AF_INET) {
        auto *sin = reinterpret_cast<sockaddr_in *>(&s);
        sin->sin_family = AF_INET;
        std::memcpy(&sin->sin_addr, a.ip.data(), sizeof sin->sin_addr);
        sin->sin_port = htons(a.port);
    } else if (a.family == AF_INET6) {
        auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&s);
        sin6->sin6_family = AF_INET6;
        std::memcpy(&sin6->sin6_addr, a.ip.data(), sizeof sin6->sin6_addr);
        sin6->sin6_port = htons(a.port);
    }
    return s;
}

// FNV-1a over the fields that vary.
void mix(std::uint64_t &h, const void *data, std::size_t n) {
    const auto *p = static_cast<const std::uint8_t *>(data);
    for (std::size_t i = 0; i < n; ++i) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
}

void mix(std::uint64_t &h, const CompactAddr &a) {
    mix(h, a.ip.data(), a.family == AF_INET ? 4 : a.ip.size());
    mix(h, &a.port, sizeof a.port);
    mix(h, &a.family, sizeof a.family);
}

}  // namespace

AddrPair make_addr_pair(const sockaddr_storage &client, const sockaddr_storage &local) {
    return AddrPair{compact(client), compact(local)};
}

std::size_t AddrPairHash::operator()(const AddrPair &p) const noexcept {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    mix(h, p.client);
    mix(h, p.local);
    return static_cast<std::size_t>(h);
}

std::string to_string(const AddrPair &p) {
    return sockaddr_to_string(expand(p.client)) + "|" + sockaddr_to_string(expand(p.local));
}

}  // namespace sni::loader
