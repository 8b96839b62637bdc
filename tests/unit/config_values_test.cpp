// The scalar syntaxes: durations, sizes, TLS versions, addresses, digests, names; and the
// "did you mean" helper.
#include <gtest/gtest.h>

#include <array>
#include <string_view>

#include "common/config_enums.hpp"
#include "common/config_suggest.hpp"
#include "common/config_values.hpp"

namespace sni::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(ConfigValues, Durations) {
    EXPECT_EQ(parse_duration("250ms").value(), milliseconds(250));
    EXPECT_EQ(parse_duration("5s").value(), seconds(5));
    EXPECT_EQ(parse_duration("2m").value(), minutes(2));
    EXPECT_EQ(parse_duration("1h").value(), hours(1));
    EXPECT_EQ(parse_duration("0s").value(), milliseconds(0));
    EXPECT_EQ(parse_duration("9999999999h").value(), hours(9999999999));
}

TEST(ConfigValues, BadDurations) {
    for (std::string_view bad :
         {"", "5", "s", "5x", "1.5s", "-1s", "5 s", "5S", "5sec", "1m30s", "99999999999s"})
        EXPECT_FALSE(parse_duration(bad).ok()) << bad;
    EXPECT_NE(parse_duration("5").error().find("has no unit"), std::string::npos);
    EXPECT_NE(parse_duration("1.5s").error().find("fractions"), std::string::npos);
    EXPECT_NE(parse_duration("5x").error().find("unknown unit \"x\""), std::string::npos);
}

TEST(ConfigValues, Sizes) {
    EXPECT_EQ(parse_size("512").value(), 512u);
    EXPECT_EQ(parse_size("512B").value(), 512u);
    EXPECT_EQ(parse_size("16KiB").value(), 16u * 1024);
    EXPECT_EQ(parse_size("16 KiB").value(), 16u * 1024);
    EXPECT_EQ(parse_size("1MiB").value(), 1024u * 1024);
}

TEST(ConfigValues, BadSizes) {
    for (std::string_view bad : {"", "KiB", "16KB", "16k", "16kib", "1.5KiB", "-1", "1GiB"})
        EXPECT_FALSE(parse_size(bad).ok()) << bad;
    EXPECT_NE(parse_size("16KB").error().find("unknown unit \"KB\""), std::string::npos);
}

TEST(ConfigValues, TlsVersions) {
    EXPECT_EQ(parse_tls_version("1.0").value(), TlsVersion::kTls1_0);
    EXPECT_EQ(parse_tls_version("1.1").value(), TlsVersion::kTls1_1);
    EXPECT_EQ(parse_tls_version("1.2").value(), TlsVersion::kTls1_2);
    EXPECT_EQ(parse_tls_version("1.3").value(), TlsVersion::kTls1_3);
    for (std::string_view bad : {"1", "1.4", "TLSv1.2", "1.20", ""})
        EXPECT_FALSE(parse_tls_version(bad).ok()) << bad;
    EXPECT_LT(TlsVersion::kTls1_1, TlsVersion::kTls1_2);  // ordering is used for ranges
    EXPECT_EQ(to_string(TlsVersion::kTls1_3), "1.3");
}

TEST(ConfigValues, BindAddresses) {
    auto v4 = parse_socket_address("0.0.0.0:443", AddressUse::kBind).value();
    EXPECT_EQ(v4, (SocketAddress{AddressKind::kIpv4, "0.0.0.0", 443}));
    auto v6 = parse_socket_address("[::]:443", AddressUse::kBind).value();
    EXPECT_EQ(v6, (SocketAddress{AddressKind::kIpv6, "::", 443}));
    auto dev = parse_socket_address("eth0:443", AddressUse::kBind).value();
    EXPECT_EQ(dev, (SocketAddress{AddressKind::kInterface, "eth0", 443}));
    auto vlan = parse_socket_address("eth0.100:8443", AddressUse::kBind).value();
    EXPECT_EQ(vlan.kind, AddressKind::kInterface);
    EXPECT_FALSE(parse_socket_address("averyveryverylongifname:443", AddressUse::kBind).ok());
}

TEST(ConfigValues, Ipv6IsCanonicalized) {
    auto v6 = parse_socket_address("[2001:DB8:0:0::1]:443", AddressUse::kConnect).value();
    EXPECT_EQ(v6.host, "2001:db8::1");
    EXPECT_EQ(to_string(v6), "[2001:db8::1]:443");
}

TEST(ConfigValues, ConnectAddresses) {
    auto name = parse_socket_address("API-1.Internal:8080", AddressUse::kConnect).value();
    EXPECT_EQ(name, (SocketAddress{AddressKind::kHostname, "api-1.internal", 8080}));
    EXPECT_FALSE(parse_socket_address("bad host:80", AddressUse::kConnect).ok());
}

TEST(ConfigValues, ListenAddressesAreIpOnly) {
    EXPECT_TRUE(parse_socket_address("127.0.0.1:9490", AddressUse::kListen).ok());
    EXPECT_TRUE(parse_socket_address("[::1]:9490", AddressUse::kListen).ok());
    EXPECT_FALSE(parse_socket_address("localhost:9490", AddressUse::kListen).ok());
}

TEST(ConfigValues, BadAddresses) {
    for (std::string_view bad :
         {"10.0.0.1", "10.0.0.1:", "10.0.0.1:0", "10.0.0.1:65536", "10.0.0.1:http", ":443",
          "::1:443", "[::1]443", "[::1", "[10.0.0.1]:443", "[::1]:"})
        EXPECT_FALSE(parse_socket_address(bad, AddressUse::kConnect).ok()) << bad;
    EXPECT_NE(parse_socket_address("::1:443", AddressUse::kConnect).error().find("brackets"),
              std::string::npos);
    EXPECT_NE(parse_socket_address("10.0.0.1", AddressUse::kConnect).error().find("no port"),
              std::string::npos);
    EXPECT_TRUE(parse_socket_address("10.0.0.1:65535", AddressUse::kConnect).ok());
}

TEST(ConfigValues, Sha256Pins) {
    const std::string hex(64, 'a');
    EXPECT_EQ(parse_sha256_hex(std::string(64, 'A')).value(), hex);
    std::string colons;
    for (int i = 0; i < 32; ++i) colons += i ? ":AA" : "AA";
    EXPECT_EQ(parse_sha256_hex(colons).value(), hex);
    EXPECT_FALSE(parse_sha256_hex(std::string(63, 'a')).ok());
    EXPECT_FALSE(parse_sha256_hex(std::string(64, 'g')).ok());
}

TEST(ConfigValues, ObjectNames) {
    EXPECT_TRUE(parse_object_name("shop-eu_1.v2").ok());
    EXPECT_FALSE(parse_object_name("").ok());
    EXPECT_FALSE(parse_object_name("with space").ok());
    EXPECT_FALSE(parse_object_name(std::string(65, 'a')).ok());
}

TEST(ConfigValues, AlpnProtocols) {
    EXPECT_TRUE(parse_alpn_protocol("http/1.1").ok());
    EXPECT_FALSE(parse_alpn_protocol("").ok());
    EXPECT_FALSE(parse_alpn_protocol("h 2").ok());
    EXPECT_FALSE(parse_alpn_protocol(std::string(256, 'a')).ok());
}

TEST(ConfigValues, EnumNamesRoundTrip) {
    for (const auto &entry : kRouteModeNames)
        EXPECT_EQ(enum_from_name<RouteMode>(kRouteModeNames, entry.name), entry.value);
    EXPECT_EQ(to_string(RouteMode::kPassthrough), "passthrough");
    EXPECT_EQ(to_string(Classifier::kUserspace), "userspace");
    EXPECT_EQ(enum_from_name<Balance>(kBalanceNames, "random"), std::nullopt);
}

TEST(ConfigSuggest, EditDistance) {
    EXPECT_EQ(edit_distance("", ""), 0u);
    EXPECT_EQ(edit_distance("bind", "bind"), 0u);
    EXPECT_EQ(edit_distance("bnd", "bind"), 1u);
    EXPECT_EQ(edit_distance("require_sin", "require_sni"), 1u);  // transposition
    EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
}

TEST(ConfigSuggest, ClosestMatch) {
    constexpr std::array<std::string_view, 3> keys{"bind", "name", "require_sni"};
    EXPECT_EQ(closest_match("bnd", keys), "bind");
    EXPECT_EQ(closest_match("requre_sni", keys), "require_sni");
    EXPECT_EQ(closest_match("completely_different", keys), std::nullopt);
    EXPECT_EQ(closest_match("x", keys), std::nullopt);
    EXPECT_EQ(did_you_mean("nmae", keys), "; did you mean \"name\"?");
    EXPECT_EQ(did_you_mean("zzzzzz", keys), "");
}

}  // namespace
}  // namespace sni::config
