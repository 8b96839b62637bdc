// The daemon's key for handed-off connections (loader/addr_pair): equal for the same pair,
// different when any part differs, and its text the one `sni-ctl conns` joins sock_diag on.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <string>

#include "loader/addr_pair.hpp"
#include "loader/listeners.hpp"

namespace sni::loader {
namespace {

sockaddr_storage v4(const char *ip, std::uint16_t port) {
    sockaddr_storage s{};
    auto *sin = reinterpret_cast<sockaddr_in *>(&s);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &sin->sin_addr);
    return s;
}

sockaddr_storage v6(const char *ip, std::uint16_t port) {
    sockaddr_storage s{};
    auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&s);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    ::inet_pton(AF_INET6, ip, &sin6->sin6_addr);
    return s;
}

TEST(AddrPair, SamePairSameKeyAndHash) {
    const AddrPair a = make_addr_pair(v4("10.0.0.1", 50000), v4("127.0.0.1", 443));
    const AddrPair b = make_addr_pair(v4("10.0.0.1", 50000), v4("127.0.0.1", 443));
    EXPECT_EQ(a, b);
    EXPECT_EQ(AddrPairHash{}(a), AddrPairHash{}(b));
}

TEST(AddrPair, AnyDifferenceMakesAnotherKey) {
    const AddrPair base = make_addr_pair(v4("10.0.0.1", 50000), v4("127.0.0.1", 443));
    EXPECT_NE(base, make_addr_pair(v4("10.0.0.2", 50000), v4("127.0.0.1", 443)));
    EXPECT_NE(base, make_addr_pair(v4("10.0.0.1", 50001), v4("127.0.0.1", 443)));
    EXPECT_NE(base, make_addr_pair(v4("10.0.0.1", 50000), v4("127.0.0.2", 443)));
    EXPECT_NE(base, make_addr_pair(v4("10.0.0.1", 50000), v4("127.0.0.1", 8443)));
    EXPECT_NE(base, make_addr_pair(v4("127.0.0.1", 443), v4("10.0.0.1", 50000)));  // swapped
    EXPECT_NE(base, make_addr_pair(v6("::ffff:10.0.0.1", 50000), v6("::ffff:127.0.0.1", 443)));
}

TEST(AddrPair, TextIsTheSockDiagJoinKey) {
    const sockaddr_storage c4 = v4("192.0.2.7", 40000), l4 = v4("127.0.0.1", 443);
    EXPECT_EQ(to_string(make_addr_pair(c4, l4)), "192.0.2.7:40000|127.0.0.1:443");
    EXPECT_EQ(to_string(make_addr_pair(c4, l4)),
              sockaddr_to_string(c4) + "|" + sockaddr_to_string(l4));
    const sockaddr_storage c6 = v6("2001:db8::1", 1), l6 = v6("::1", 8443);
    EXPECT_EQ(to_string(make_addr_pair(c6, l6)), "[2001:db8::1]:1|[::1]:8443");
}

}  // namespace
}  // namespace sni::loader
