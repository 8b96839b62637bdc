// A connection's address pair (client, local) as a small fixed-size key: the daemon remembers
// every handed-off connection by it for `sni-ctl conns`, so it is built once per connection
// and must cost no text formatting and no allocation; the text form is made only when `conns`
// asks.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace sni::loader {

struct CompactAddr {
    std::array<std::uint8_t, 16> ip{};  // IPv4 in the first 4 bytes
    std::uint16_t port = 0;             // host byte order
    std::uint8_t family = 0;            // AF_INET, AF_INET6; 0 for anything else
    bool operator==(const CompactAddr &) const = default;
};

struct AddrPair {
    CompactAddr client;
    CompactAddr local;
    bool operator==(const AddrPair &) const = default;
};

AddrPair make_addr_pair(const sockaddr_storage &client, const sockaddr_storage &local);

struct AddrPairHash {
    std::size_t operator()(const AddrPair &p) const noexcept;
};

// "client|local", each as sockaddr_to_string writes it ("127.0.0.1:443", "[::1]:443"): the
// key `sni-ctl conns` joins sock_diag's sockets on.
std::string to_string(const AddrPair &p);

}  // namespace sni::loader
