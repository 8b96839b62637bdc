#include "workers/proxy_v2.hpp"

#include <netinet/in.h>

#include <array>
#include <cstring>

namespace sni::worker {

namespace {

constexpr std::array<std::uint8_t, 12> kSignature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                     0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

struct V6 {
    std::uint8_t addr[16];
    std::uint16_t port;  // network order
};

bool as_v6(const sockaddr_storage &ss, socklen_t len, V6 &out) {
    if (ss.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
        const auto &a = reinterpret_cast<const sockaddr_in6 &>(ss);
        std::memcpy(out.addr, &a.sin6_addr, 16);
        out.port = a.sin6_port;
        return true;
    }
    if (ss.ss_family == AF_INET && len >= sizeof(sockaddr_in)) {
        const auto &a = reinterpret_cast<const sockaddr_in &>(ss);
        std::memset(out.addr, 0, 10);
        out.addr[10] = out.addr[11] = 0xff;
        std::memcpy(out.addr + 12, &a.sin_addr, 4);
        out.port = a.sin_port;
        return true;
    }
    return false;
}

void put16(std::vector<std::uint8_t> &out, std::size_t v) {
    out.push_back(static_cast<std::uint8_t>(v >> 8));
    out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void put_raw(std::vector<std::uint8_t> &out, const void *p, std::size_t n) {
    const auto *b = static_cast<const std::uint8_t *>(p);
    out.insert(out.end(), b, b + n);
}

void put_tlv(std::vector<std::uint8_t> &out, std::uint8_t type, std::string_view value) {
    if (value.empty() || value.size() > 0xffff) return;
    out.push_back(type);
    put16(out, value.size());
    put_raw(out, value.data(), value.size());
}

}  // namespace

std::vector<std::uint8_t> proxy_v2_header(const sockaddr_storage &client, socklen_t client_len,
                                          const sockaddr_storage &local, socklen_t local_len,
                                          std::string_view sni, std::string_view alpn) {
    std::vector<std::uint8_t> body;
    std::uint8_t command = 0x21;  // v2, PROXY
    std::uint8_t family = 0x00;   // UNSPEC
    const bool both_v4 = client.ss_family == AF_INET && local.ss_family == AF_INET &&
                         client_len >= sizeof(sockaddr_in) && local_len >= sizeof(sockaddr_in);
    V6 src{}, dst{};
    if (both_v4) {
        family = 0x11;  // TCP over IPv4
        const auto &s = reinterpret_cast<const sockaddr_in &>(client);
        const auto &d = reinterpret_cast<const sockaddr_in &>(local);
        put_raw(body, &s.sin_addr, 4);
        put_raw(body, &d.sin_addr, 4);
        put_raw(body, &s.sin_port, 2);
        put_raw(body, &d.sin_port, 2);
    } else if (as_v6(client, client_len, src) && as_v6(local, local_len, dst)) {
        family = 0x21;  // TCP over IPv6
        put_raw(body, src.addr, 16);
        put_raw(body, dst.addr, 16);
        put_raw(body, &src.port, 2);
        put_raw(body, &dst.port, 2);
    } else {
        command = 0x20;  // LOCAL: the receiver uses the connection's own addresses
    }
    put_tlv(body, kPp2TypeAlpn, alpn);
    put_tlv(body, kPp2TypeAuthority, sni);

    std::vector<std::uint8_t> out(kSignature.begin(), kSignature.end());
    out.push_back(command);
    out.push_back(family);
    put16(out, body.size());
    out.insert(out.end(), body.begin(), body.end());
    return out;
}

}  // namespace sni::worker
