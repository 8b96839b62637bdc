// loader/route_table (per-listener server-name lookup, default routes, the BPF route list) and
// loader/policy (the decision every classifier applies).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "common/config.hpp"
#include "loader/policy.hpp"
#include "loader/route_table.hpp"

namespace {

using namespace sni;
using loader::Decision;
using loader::ListenerPolicy;
using loader::RouteTable;
using loader::Verdict;

const char *kConfig = R"(
listeners:
  - name: web
    bind: ["127.0.0.1:8443"]
    default_route: fallback
  - name: strict
    bind: ["127.0.0.1:9443"]
    require_sni: true
routes:
  - name: exact
    listener: web
    server_names: [www.example.com]
    mode: passthrough
    backend: {servers: ["127.0.0.1:1"]}
  - name: wild
    listener: web
    server_names: ["*.example.com", "Other.Example.ORG."]
    mode: passthrough
    backend: {servers: ["127.0.0.1:2"]}
  - name: fallback
    listener: web
    mode: passthrough
    backend: {servers: ["127.0.0.1:3"]}
  - name: strict-one
    listener: strict
    server_names: [www.example.com]
    mode: passthrough
    backend: {servers: ["127.0.0.1:4"]}
)";

config::Config load() {
    auto r = config::load_string(kConfig, "<test>", "/");
    EXPECT_TRUE(r.ok()) << (r.ok() ? "" : config::to_string(r.error()));
    return r.ok() ? std::move(r).value() : config::Config{};
}

TEST(RouteTable, ExactBeatsWildcardPerListener) {
    const RouteTable t(load());
    ASSERT_EQ(t.listener_count(), 2u);
    EXPECT_EQ(t.lookup(0, "www.example.com"), 0u);
    EXPECT_EQ(t.lookup(0, "api.example.com"), 1u);
    EXPECT_EQ(t.lookup(0, "WWW.Example.Com."), 0u);
    EXPECT_EQ(t.lookup(0, "other.example.org"), 1u);
    // A wildcard covers exactly one label.
    EXPECT_FALSE(t.lookup(0, "a.b.example.com").has_value());
    EXPECT_FALSE(t.lookup(0, "example.com").has_value());
    // Listeners do not see each other's routes.
    EXPECT_EQ(t.lookup(1, "www.example.com"), 3u);
    EXPECT_FALSE(t.lookup(1, "api.example.com").has_value());
    EXPECT_FALSE(t.lookup(0, "").has_value());
    EXPECT_FALSE(t.lookup(7, "www.example.com").has_value());
}

TEST(RouteTable, DefaultRoutes) {
    const RouteTable t(load());
    EXPECT_EQ(t.default_route(0), 2u);
    EXPECT_FALSE(t.default_route(1).has_value());
    EXPECT_FALSE(t.default_route(9).has_value());
}

TEST(RouteTable, SteeringRoutesListEveryPattern) {
    const RouteTable t(load());
    auto routes = t.steering_routes();
    auto has = [&](uint32_t listener, const std::string &pattern, uint32_t route) {
        return std::any_of(routes.begin(), routes.end(), [&](const loader::SteeringRoute &r) {
            return r.listener_id == listener && r.pattern == pattern && r.route_id == route;
        });
    };
    EXPECT_EQ(routes.size(), 4u);
    EXPECT_TRUE(has(0, "www.example.com", 0));
    EXPECT_TRUE(has(0, "*.example.com", 1));
    EXPECT_TRUE(has(0, "other.example.org", 1));
    EXPECT_TRUE(has(1, "www.example.com", 3));
}

ch_info ok_hello(const char *sni) {
    ch_info f{};
    f.status = CH_OK;
    f.record_bytes = 300;
    if (sni != nullptr) {
        f.flags |= CH_F_SNI;
        std::strcpy(f.sni, sni);
        f.sni_len = static_cast<uint16_t>(std::strlen(sni));
    }
    return f;
}

ch_info failed(uint32_t status, uint32_t reason) {
    ch_info f{};
    f.status = status;
    f.reason = reason;
    return f;
}

TEST(Policy, MatchedSniIsRouted) {
    const ListenerPolicy p{};
    const Decision d = loader::decide(p, ok_hello("a.test"), 5u);
    EXPECT_EQ(d.verdict, Verdict::kRouted);
    EXPECT_EQ(d.route, 5u);
    EXPECT_TRUE(d.hands_off());
    EXPECT_FALSE(d.alert.has_value());
    EXPECT_EQ(d.outcome(), handoff::Outcome::kRouted);
}

TEST(Policy, UnknownSni) {
    ListenerPolicy reject{false, config::UnknownSni::kReject, 2u};
    Decision d = loader::decide(reject, ok_hello("nope.test"), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kRejectUnknownSni);
    EXPECT_EQ(d.alert, AlertDescription::kUnrecognizedName);
    EXPECT_FALSE(d.hands_off());

    ListenerPolicy to_default{false, config::UnknownSni::kDefault, 2u};
    d = loader::decide(to_default, ok_hello("nope.test"), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kDefaultUnknownSni);
    EXPECT_EQ(d.route, 2u);
    EXPECT_EQ(d.outcome(), handoff::Outcome::kDefaultUnknownSni);

    // `default` without a default route rejects.
    ListenerPolicy no_default{false, config::UnknownSni::kDefault, std::nullopt};
    d = loader::decide(no_default, ok_hello("nope.test"), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kRejectUnknownSni);
}

TEST(Policy, NoSni) {
    ListenerPolicy require{true, config::UnknownSni::kDefault, 2u};
    Decision d = loader::decide(require, ok_hello(nullptr), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kRejectNoSni);
    EXPECT_EQ(d.alert, AlertDescription::kHandshakeFailure);

    ListenerPolicy lenient{false, config::UnknownSni::kReject, 2u};
    d = loader::decide(lenient, ok_hello(nullptr), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kDefaultNoSni);
    EXPECT_EQ(d.route, 2u);
    EXPECT_EQ(d.outcome(), handoff::Outcome::kDefaultNoSni);

    ListenerPolicy nothing{false, config::UnknownSni::kReject, std::nullopt};
    d = loader::decide(nothing, ok_hello(nullptr), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kRejectNoSni);
    EXPECT_EQ(d.alert, AlertDescription::kHandshakeFailure);
}

TEST(Policy, BrokenStreamsAreClosed) {
    const ListenerPolicy p{false, config::UnknownSni::kDefault, 1u};
    Decision d = loader::decide(p, failed(CH_NOT_TLS, CH_R_RECORD_TYPE), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kNotTls);
    EXPECT_FALSE(d.alert.has_value());
    d = loader::decide(p, failed(CH_MALFORMED, CH_R_SNI_CHARSET), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kMalformed);
    EXPECT_EQ(d.alert, AlertDescription::kDecodeError);
    d = loader::decide(p, failed(CH_TOO_BIG, CH_R_NONE), std::nullopt);
    EXPECT_EQ(d.verdict, Verdict::kTooBig);
    EXPECT_FALSE(d.alert.has_value());
    EXPECT_FALSE(d.hands_off());
}

TEST(TlsAlert, RecordBytes) {
    const auto r = fatal_alert_record(AlertDescription::kUnrecognizedName);
    const std::array<uint8_t, 7> want{0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x70};
    EXPECT_EQ(r, want);
    EXPECT_EQ(fatal_alert_record(AlertDescription::kHandshakeFailure)[6], 40);
    EXPECT_EQ(alert_name(AlertDescription::kDecodeError), "decode_error");
}

}  // namespace
