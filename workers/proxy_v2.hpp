// PROXY protocol v2 header (haproxy.org proxy-protocol.txt, section 2.2): PROXY command, TCP
// over IPv4 or IPv6 with the client's address as source and the address it connected to as
// destination, plus TLVs PP2_TYPE_AUTHORITY (the SNI) and PP2_TYPE_ALPN when known.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string_view>
#include <vector>

namespace sni::worker {

inline constexpr std::uint8_t kPp2TypeAlpn = 0x01;
inline constexpr std::uint8_t kPp2TypeAuthority = 0x02;

// Addresses of another family (or none) give a LOCAL header without addresses. An IPv4 and an
// IPv6 address together are both sent as IPv6 (the IPv4 one mapped).
std::vector<std::uint8_t> proxy_v2_header(const sockaddr_storage &client, socklen_t client_len,
                                          const sockaddr_storage &local, socklen_t local_len,
                                          std::string_view sni, std::string_view alpn);

}  // namespace sni::worker
