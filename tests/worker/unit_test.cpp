// Unit tests of worker pieces that need no processes: the balancer and the PROXY v2 header.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <map>

#include "workers/balancer.hpp"
#include "workers/proxy_v2.hpp"
#include "workers/session_cache.hpp"
#include "workers/tls_params.hpp"

namespace sni::worker {
namespace {

using namespace std::chrono_literals;

TEST(Balancer, SmoothWeightedRoundRobin) {
    Balancer b(config::Balance::kRoundRobin, {1, 2, 1}, {true, true, true});
    const auto now = Balancer::Clock::now();
    std::map<std::size_t, int> counts;
    std::vector<std::size_t> seq;
    for (int i = 0; i < 8; ++i) {
        const auto s = b.pick(now, {});
        ASSERT_TRUE(s);
        ++counts[*s];
        seq.push_back(*s);
    }
    EXPECT_EQ(counts[0], 2);
    EXPECT_EQ(counts[1], 4);
    EXPECT_EQ(counts[2], 2);
    // Smooth: the heavy server is never picked three times in a row.
    for (std::size_t i = 2; i < seq.size(); ++i)
        EXPECT_FALSE(seq[i] == 1 && seq[i - 1] == 1 && seq[i - 2] == 1);
}

TEST(Balancer, ExcludesTriedAndUnusable) {
    Balancer b(config::Balance::kRoundRobin, {1, 1, 1}, {true, false, true});
    const auto now = Balancer::Clock::now();
    const std::vector<std::size_t> tried = {0};
    for (int i = 0; i < 5; ++i) EXPECT_EQ(b.pick(now, tried), 2u);
    const std::vector<std::size_t> both = {0, 2};
    EXPECT_FALSE(b.pick(now, both));
}

TEST(Balancer, LeastConnectionsRelativeToWeight) {
    Balancer b(config::Balance::kLeastConn, {1, 2}, {true, true});
    const auto now = Balancer::Clock::now();
    // 0 active each: first pick starts at the cursor.
    auto s = b.pick(now, {});
    ASSERT_TRUE(s);
    b.acquire(*s);
    // Fill up: server 1 (weight 2) should take two for each one of server 0.
    for (int i = 0; i < 5; ++i) {
        const auto t = b.pick(now, {});
        ASSERT_TRUE(t);
        b.acquire(*t);
    }
    EXPECT_EQ(b.active(0), 2u);
    EXPECT_EQ(b.active(1), 4u);
    b.release(1);
    b.release(1);
    b.release(1);
    EXPECT_EQ(b.pick(now, {}), 1u);
}

TEST(Balancer, EjectsAfterConsecutiveFailuresAndFailsOpen) {
    Balancer b(config::Balance::kRoundRobin, {1, 1}, {true, true});
    auto now = Balancer::Clock::now();
    EXPECT_FALSE(b.connect_failed(0, now));
    EXPECT_FALSE(b.connect_failed(0, now));
    EXPECT_TRUE(b.connect_failed(0, now));
    EXPECT_TRUE(b.ejected(0, now));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(b.pick(now, {}), 1u);
    // Every server ejected: all are tried rather than none.
    for (int i = 0; i < 3; ++i) b.connect_failed(1, now);
    EXPECT_TRUE(b.pick(now, {}));
    // The ejection ends; a success clears the count.
    now += Balancer::kEjectFor + 1s;
    EXPECT_FALSE(b.ejected(0, now));
    b.connect_succeeded(0);
    EXPECT_FALSE(b.connect_failed(0, now));
}

// Active verdicts: a down server is never picked, not even when the up ones are all ejected;
// with every server down there is nothing to pick; a passing check ends an ejection.
TEST(Balancer, DownServersAreNeverPicked) {
    Balancer b(config::Balance::kRoundRobin, {1, 1, 1}, {true, true, true});
    const auto now = Balancer::Clock::now();
    b.set_down(0, true);
    for (int i = 0; i < 6; ++i) EXPECT_NE(b.pick(now, {}), 0u);
    for (int i = 0; i < 3; ++i) b.connect_failed(1, now);
    for (int i = 0; i < 3; ++i) b.connect_failed(2, now);
    for (int i = 0; i < 6; ++i) EXPECT_NE(b.pick(now, {}), 0u);  // ejected up ones, not 0
    b.check_passed(1);
    EXPECT_FALSE(b.ejected(1, now));
    for (int i = 0; i < 4; ++i) EXPECT_EQ(b.pick(now, {}), 1u);
    b.set_down(1, true);
    b.set_down(2, true);
    EXPECT_FALSE(b.pick(now, {}));
    b.set_down(0, false);
    EXPECT_EQ(b.pick(now, {}), 0u);
}

sockaddr_storage v4(const char *ip, std::uint16_t port) {
    sockaddr_storage ss{};
    auto &a = reinterpret_cast<sockaddr_in &>(ss);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &a.sin_addr);
    return ss;
}

TEST(ProxyV2, Ipv4WithTlvs) {
    const auto c = v4("192.0.2.1", 40000);
    const auto l = v4("198.51.100.7", 443);
    const auto h =
        proxy_v2_header(c, sizeof(sockaddr_in), l, sizeof(sockaddr_in), "shop.example", "h2");
    const std::uint8_t sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
    ASSERT_GE(h.size(), 28u);
    EXPECT_EQ(std::memcmp(h.data(), sig, 12), 0);
    EXPECT_EQ(h[12], 0x21);
    EXPECT_EQ(h[13], 0x11);
    const std::size_t len = (h[14] << 8) | h[15];
    EXPECT_EQ(len, h.size() - 16);
    EXPECT_EQ(len, 12u + (3 + 2) + (3 + 12));
    const std::uint8_t addrs[12] = {192, 0, 2, 1, 198, 51, 100, 7, 0x9c, 0x40, 0x01, 0xbb};
    EXPECT_EQ(std::memcmp(h.data() + 16, addrs, 12), 0);
    EXPECT_EQ(h[28], kPp2TypeAlpn);
    EXPECT_EQ(std::string(h.begin() + 31, h.begin() + 33), "h2");
    EXPECT_EQ(h[33], kPp2TypeAuthority);
    EXPECT_EQ(std::string(h.begin() + 36, h.end()), "shop.example");
}

TEST(ProxyV2, MixedFamiliesAsIpv6AndUnknownAsLocal) {
    const auto c = v4("192.0.2.1", 1);
    sockaddr_storage l{};
    auto &a6 = reinterpret_cast<sockaddr_in6 &>(l);
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(2);
    ::inet_pton(AF_INET6, "2001:db8::1", &a6.sin6_addr);
    auto h = proxy_v2_header(c, sizeof(sockaddr_in), l, sizeof(sockaddr_in6), "", "");
    EXPECT_EQ(h[13], 0x21);
    EXPECT_EQ(h.size(), 16u + 36u);
    EXPECT_EQ(h[16 + 10], 0xff);  // ::ffff:192.0.2.1
    sockaddr_storage none{};
    h = proxy_v2_header(none, 0, none, 0, "a", "");
    EXPECT_EQ(h[12], 0x20);  // LOCAL
    EXPECT_EQ(h[13], 0x00);
}

TEST(TlsParams, CipherStringAndAlpn) {
    EXPECT_EQ(cipher_string("", std::nullopt), "");
    EXPECT_EQ(cipher_string("", 0), "DEFAULT:@SECLEVEL=0");
    EXPECT_EQ(cipher_string("ECDHE+AESGCM", 2), "ECDHE+AESGCM:@SECLEVEL=2");
    const auto wire = alpn_wire({"h2", "http/1.1"});
    EXPECT_EQ(wire.size(), 3u + 9u);
    EXPECT_EQ(alpn_protocols_of(wire.data(), wire.size()),
              (std::vector<std::string>{"h2", "http/1.1"}));
}

SslSessionPtr resumable_session() {
    SslSessionPtr s(SSL_SESSION_new());
    const unsigned char id[] = {1, 2, 3, 4};
    SSL_SESSION_set1_id(s.get(), id, sizeof id);
    return s;
}

TEST(SessionCache, OffersTheLastSessionForTheSameNameOnly) {
    SessionCache cache(2);
    EXPECT_EQ(cache.offer(0, "a.test"), nullptr);
    SslSessionPtr s = resumable_session();
    SSL_SESSION *raw = s.get();
    cache.store(0, "a.test", std::move(s));
    EXPECT_EQ(cache.offer(0, "a.test"), raw);
    EXPECT_EQ(cache.offer(0, "b.test"), nullptr);
    EXPECT_EQ(cache.offer(1, "a.test"), nullptr);
    EXPECT_EQ(cache.offer(2, "a.test"), nullptr);  // no such server
    cache.forget(0);
    EXPECT_EQ(cache.offer(0, "a.test"), nullptr);

    SessionCache off(1, /*reuse=*/false);  // backend.session_reuse: false
    off.store(0, "a.test", resumable_session());
    EXPECT_EQ(off.offer(0, "a.test"), nullptr);
}

// Three refused offers in a row: the server is skipped for 16 connections, then offered one
// session; each refusal of that doubles the skip (up to 1024); a resumption ends it.
TEST(SessionCache, AServerThatRefusesIsSkippedWithABackoff) {
    SessionCache cache(1);
    cache.store(0, "a.test", resumable_session());
    for (std::uint32_t i = 1; i < SessionCache::kRefusalsBeforeBackoff; ++i) {
        ASSERT_NE(cache.offer(0, "a.test"), nullptr);
        EXPECT_EQ(cache.record_offer(0, false), 0u);
    }
    ASSERT_NE(cache.offer(0, "a.test"), nullptr);
    EXPECT_EQ(cache.record_offer(0, false), SessionCache::kFirstBackoff);
    std::uint32_t expected = SessionCache::kFirstBackoff;
    for (int round = 0; round < 8; ++round) {
        for (std::uint32_t i = 0; i < expected; ++i)
            ASSERT_EQ(cache.offer(0, "a.test"), nullptr) << "round " << round << " skip " << i;
        ASSERT_NE(cache.offer(0, "a.test"), nullptr) << "round " << round;  // the probe
        expected = std::min(expected * 2, SessionCache::kMaxBackoff);
        EXPECT_EQ(cache.record_offer(0, false), expected);
    }
    EXPECT_EQ(expected, SessionCache::kMaxBackoff);
    for (std::uint32_t i = 0; i < expected; ++i) ASSERT_EQ(cache.offer(0, "a.test"), nullptr);
    ASSERT_NE(cache.offer(0, "a.test"), nullptr);
    EXPECT_EQ(cache.record_offer(0, true), 0u);  // resumed: offered every time again
    for (int i = 0; i < 3; ++i) {
        ASSERT_NE(cache.offer(0, "a.test"), nullptr);
        EXPECT_EQ(cache.record_offer(0, i == 2 ? false : true), 0u);
    }
    EXPECT_NE(cache.offer(0, "a.test"), nullptr);  // one refusal after a resumption: no skip
}

}  // namespace
}  // namespace sni::worker
