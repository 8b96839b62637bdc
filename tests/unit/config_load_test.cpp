// Loading valid configurations: the full documented example, defaults, path resolution, and
// what a reload diff relies on (copy and ==).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/config.hpp"
#include "common/config_query.hpp"
#include "common/config_values.hpp"

namespace sni::config {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

const fs::path kDataDir = fs::path(SNI_TEST_DATA_DIR) / "config";

Config load_ok(const fs::path &file) {
    auto result = load_file(file);
    if (!result) ADD_FAILURE() << to_string(result.error());
    return result ? result.value() : Config{};
}

std::string cert(std::string_view name) {
    return (kDataDir / "certs" / name).string();
}

TEST(ConfigLoad, FullExampleListeners) {
    const Config c = load_ok(kDataDir / "full.yaml");
    ASSERT_EQ(c.listeners.size(), 2u);
    const Listener &pub = c.listeners[0];
    EXPECT_EQ(pub.name, "public");
    ASSERT_EQ(pub.bind.size(), 2u);
    EXPECT_EQ(pub.bind[0], (SocketAddress{AddressKind::kIpv4, "0.0.0.0", 443}));
    EXPECT_EQ(pub.bind[1], (SocketAddress{AddressKind::kIpv6, "::", 443}));
    EXPECT_FALSE(pub.require_sni);
    EXPECT_EQ(pub.unknown_sni, UnknownSni::kDefault);
    EXPECT_EQ(pub.default_route, "fallback");
    EXPECT_EQ(pub.client_hello_timeout, seconds(5));
    EXPECT_EQ(pub.max_client_hello, 16u * 1024);

    const Listener &internal = c.listeners[1];
    EXPECT_EQ(internal.bind[0], (SocketAddress{AddressKind::kInterface, "eth0", 8443}));
    EXPECT_TRUE(internal.require_sni);
    EXPECT_EQ(internal.unknown_sni, UnknownSni::kReject);  // no default_route
    EXPECT_EQ(internal.client_hello_timeout, milliseconds(250));
    EXPECT_EQ(internal.max_client_hello, 4096u);
}

TEST(ConfigLoad, FullExampleReencryptRoute) {
    const Config c = load_ok(kDataDir / "full.yaml");
    ASSERT_EQ(c.routes.size(), 4u);
    const Route &shop = c.routes[0];
    EXPECT_EQ(shop.name, "shop");
    EXPECT_EQ(shop.listener, "public");
    EXPECT_EQ(shop.server_names,
              (std::vector<std::string>{"shop.example.com", "*.shop.example.com"}));
    EXPECT_EQ(shop.mode, RouteMode::kReencrypt);
    EXPECT_EQ(shop.pool, "default");
    EXPECT_EQ(shop.idle_timeout, seconds(300));

    ASSERT_TRUE(shop.tls);
    ASSERT_EQ(shop.tls->certificates.size(), 2u);
    EXPECT_EQ(
        shop.tls->certificates[0],
        (CertificateFiles{cert("shop-ecdsa.crt"), cert("shop-ecdsa.key"), cert("shop.ocsp")}));
    EXPECT_EQ(shop.tls->certificates[1],
              (CertificateFiles{cert("shop-rsa.crt"), cert("shop-rsa.key"), ""}));
    EXPECT_EQ(shop.tls->min_version, TlsVersion::kTls1_2);
    EXPECT_EQ(shop.tls->max_version, TlsVersion::kTls1_3);
    EXPECT_EQ(shop.tls->ciphers, "ECDHE+AESGCM:ECDHE+CHACHA20");
    EXPECT_EQ(shop.tls->ciphersuites, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384");
    EXPECT_EQ(shop.tls->alpn, (std::vector<std::string>{"h2", "http/1.1"}));
    EXPECT_TRUE(shop.tls->session_tickets);

    const Backend &b = shop.backend;
    ASSERT_EQ(b.servers.size(), 2u);
    EXPECT_EQ(b.servers[0], (BackendServer{{AddressKind::kIpv4, "10.0.0.10", 443}, 1}));
    EXPECT_EQ(b.servers[1], (BackendServer{{AddressKind::kIpv4, "10.0.0.11", 443}, 2}));
    EXPECT_EQ(b.balance, Balance::kRoundRobin);
    EXPECT_EQ(b.connect_timeout, seconds(3));
    EXPECT_EQ(b.proxy_protocol, ProxyProtocol::kV2);
    ASSERT_TRUE(b.health_check);
    EXPECT_EQ(*b.health_check, (HealthCheck{HealthCheckType::kTcp, seconds(5), seconds(2), 2, 3}));

    ASSERT_TRUE(b.tls);
    EXPECT_EQ(b.tls->sni_mode, BackendSni::kFixed);
    EXPECT_EQ(b.tls->sni, "shop.internal");
    EXPECT_EQ(b.tls->min_version, TlsVersion::kTls1_0);
    EXPECT_EQ(b.tls->max_version, TlsVersion::kTls1_1);
    EXPECT_EQ(b.tls->security_level, 0);
    EXPECT_EQ(b.tls->ciphers, "DEFAULT");
    EXPECT_TRUE(b.tls->verify.enabled);
    EXPECT_EQ(b.tls->verify.ca, cert("ca.pem"));
    EXPECT_EQ(b.tls->verify.name, "shop.internal");
    EXPECT_TRUE(b.tls->verify.cache);  // the default
    ASSERT_TRUE(b.tls->client_certificate);
    EXPECT_EQ(b.tls->client_certificate->cert, cert("client.crt"));
    EXPECT_EQ(b.tls->alpn_mode, BackendAlpn::kForward);
}

TEST(ConfigLoad, FullExampleOtherModes) {
    const Config c = load_ok(kDataDir / "full.yaml");
    ASSERT_EQ(c.routes.size(), 4u);
    const Route &api = c.routes[1];
    EXPECT_EQ(api.mode, RouteMode::kTerminate);
    EXPECT_TRUE(api.tls);
    EXPECT_FALSE(api.backend.tls);  // terminate: plain TCP to the backend
    EXPECT_EQ(api.backend.servers[0].address,
              (SocketAddress{AddressKind::kIpv6, "fd00::20", 8080}));
    EXPECT_EQ(api.backend.servers[1].address,
              (SocketAddress{AddressKind::kHostname, "api-1.internal", 8080}));
    EXPECT_EQ(api.backend.balance, Balance::kLeastConn);
    EXPECT_EQ(api.idle_timeout, seconds(120));

    const Route &fallback = c.routes[2];
    EXPECT_EQ(fallback.mode, RouteMode::kPassthrough);
    EXPECT_FALSE(fallback.tls);
    EXPECT_FALSE(fallback.backend.tls);
    EXPECT_TRUE(fallback.server_names.empty());
    EXPECT_EQ(*fallback.backend.health_check, HealthCheck{});  // all defaults

    const Route &legacy = c.routes[3];
    ASSERT_TRUE(legacy.backend.tls);
    EXPECT_EQ(legacy.backend.tls->sni_mode, BackendSni::kClient);
    EXPECT_FALSE(legacy.backend.tls->verify.enabled);
    EXPECT_EQ(legacy.backend.tls->alpn_mode, BackendAlpn::kList);
    EXPECT_EQ(legacy.backend.tls->alpn, std::vector<std::string>{"http/1.1"});
    EXPECT_FALSE(legacy.backend.tls->session_reuse);
    EXPECT_EQ(legacy.backend.health_check->type, HealthCheckType::kTls);
}

TEST(ConfigLoad, FullExampleGlobals) {
    const Config c = load_ok(kDataDir / "full.yaml");
    ASSERT_EQ(c.pools.size(), 2u);
    EXPECT_EQ(c.pools[0], (Pool{"default", 0, "sni-splitter"}));
    EXPECT_EQ(c.pools[1], (Pool{"edge", 4, "sni-splitter"}));
    EXPECT_EQ(c.control.socket, "/run/sni-splitter/ctl.sock");
    ASSERT_TRUE(c.metrics.listen);
    EXPECT_EQ(to_string(*c.metrics.listen), "127.0.0.1:9490");
    EXPECT_EQ(c.access_log.target, AccessLogTarget::kStderr);
    EXPECT_EQ(c.classifier, Classifier::kAuto);
}

TEST(ConfigLoad, MinimalConfigGetsDefaults) {
    const Config c = load_ok(kDataDir / "minimal.yaml");
    ASSERT_EQ(c.routes.size(), 1u);
    const Listener &l = c.listeners.at(0);
    EXPECT_FALSE(l.require_sni);
    EXPECT_EQ(l.unknown_sni, UnknownSni::kReject);
    EXPECT_EQ(l.client_hello_timeout, seconds(5));
    EXPECT_EQ(l.max_client_hello, 16u * 1024);

    const Route &r = c.routes[0];
    EXPECT_EQ(r.pool, "default");
    EXPECT_EQ(r.idle_timeout, seconds(300));
    ASSERT_TRUE(r.tls);
    EXPECT_EQ(r.tls->min_version, TlsVersion::kTls1_2);
    EXPECT_EQ(r.tls->max_version, TlsVersion::kTls1_3);
    EXPECT_EQ(r.tls->security_level, std::nullopt);
    EXPECT_TRUE(r.tls->alpn.empty());
    EXPECT_TRUE(r.tls->session_tickets);
    EXPECT_EQ(r.backend.connect_timeout, seconds(5));
    EXPECT_EQ(r.backend.balance, Balance::kRoundRobin);
    EXPECT_EQ(r.backend.proxy_protocol, ProxyProtocol::kNone);
    EXPECT_FALSE(r.backend.health_check);
    ASSERT_TRUE(r.backend.tls);
    EXPECT_EQ(*r.backend.tls, BackendTls{});
    EXPECT_TRUE(r.backend.tls->verify.enabled);  // verification is on unless `verify: none`
    EXPECT_EQ(r.backend.tls->sni_mode, BackendSni::kNone);
    EXPECT_EQ(r.backend.tls->alpn_mode, BackendAlpn::kForward);
    EXPECT_TRUE(r.backend.tls->session_reuse);

    ASSERT_EQ(c.pools.size(), 1u);  // implicit default pool
    EXPECT_EQ(c.pools[0], (Pool{"default", 0, "sni-splitter"}));
    EXPECT_EQ(c.control, Control{});
    EXPECT_FALSE(c.metrics.listen);
    EXPECT_EQ(c.access_log.target, AccessLogTarget::kStderr);
    EXPECT_EQ(c.classifier, Classifier::kAuto);
}

TEST(ConfigLoad, RelativePathsResolveAgainstTheConfigDirectory) {
    // Load via a path with "..": resolution uses the file's directory, not the working dir.
    const Config c = load_ok(kDataDir / "certs" / ".." / "minimal.yaml");
    ASSERT_EQ(c.routes.size(), 1u);
    const std::string crt = c.routes[0].tls->certificates.at(0).cert;
    EXPECT_TRUE(fs::path(crt).is_absolute()) << crt;
    EXPECT_TRUE(fs::exists(crt)) << crt;
    EXPECT_EQ(fs::path(crt).filename(), "shop-ecdsa.crt");
}

TEST(ConfigLoad, AbsolutePathsAreKept) {
    const std::string yaml = R"(
listeners: [{name: l, bind: ["127.0.0.1:8443"]}]
routes:
  - name: r
    listener: l
    server_names: [a.example]
    mode: terminate
    tls: {certificates: [{cert: )" +
                             cert("client.crt") + ", key: " + cert("client.key") + R"(}]}
    backend: {servers: ["127.0.0.1:8080"]}
)";
    auto result = load_string(yaml, "inline.yaml", "/nonexistent");
    ASSERT_TRUE(result) << to_string(result.error());
    EXPECT_EQ(result->routes[0].tls->certificates[0].cert, cert("client.crt"));
}

TEST(ConfigLoad, ServerNamesAreStoredNormalized) {
    const std::string yaml = R"(
listeners: [{name: l, bind: ["127.0.0.1:8443"]}]
routes:
  - name: r
    listener: l
    server_names: [Shop.Example.COM., "*.API.example.com"]
    mode: passthrough
    backend: {servers: ["127.0.0.1:8080"]}
)";
    auto result = load_string(yaml, "inline.yaml", kDataDir);
    ASSERT_TRUE(result) << to_string(result.error());
    EXPECT_EQ(result->routes[0].server_names,
              (std::vector<std::string>{"shop.example.com", "*.api.example.com"}));
}

TEST(ConfigLoad, CopiesCompareEqualAndDiffsAreVisible) {
    const Config a = load_ok(kDataDir / "full.yaml");
    Config b = a;
    EXPECT_EQ(a, b);
    b.routes[0].backend.servers[1].weight = 3;
    EXPECT_NE(a, b);
    EXPECT_EQ(a.listeners, b.listeners);  // unchanged sections still compare equal
    EXPECT_NE(a.routes[0], b.routes[0]);
    EXPECT_EQ(a.routes[1], b.routes[1]);
}

TEST(ConfigLoad, LoadingTwiceGivesEqualConfigs) {
    EXPECT_EQ(load_ok(kDataDir / "full.yaml"), load_ok(kDataDir / "full.yaml"));
}

TEST(ConfigLoad, MissingFileIsAnError) {
    auto result = load_file(kDataDir / "does-not-exist.yaml");
    ASSERT_FALSE(result);
    ASSERT_EQ(result.error().size(), 1u);
    EXPECT_NE(to_string(result.error()[0]).find("does-not-exist.yaml: cannot open"),
              std::string::npos)
        << to_string(result.error()[0]);
}

TEST(ConfigLoad, SyntaxErrorInFileHasItsLine) {
    auto result = load_file(kDataDir / "syntax_error.yaml");
    ASSERT_FALSE(result);
    ASSERT_EQ(result.error().size(), 1u);
    const ConfigError &e = result.error()[0];
    EXPECT_EQ(e.file, (kDataDir / "syntax_error.yaml").string());
    EXPECT_GE(e.line, 3);
    EXPECT_NE(e.message.find("YAML syntax error"), std::string::npos) << e.message;
}

TEST(ConfigLoad, QueryHelpers) {
    const Config c = load_ok(kDataDir / "full.yaml");
    ASSERT_NE(find_route(c, "api"), nullptr);
    EXPECT_EQ(find_route(c, "api")->mode, RouteMode::kTerminate);
    EXPECT_EQ(find_route(c, "nope"), nullptr);
    EXPECT_NE(find_listener(c, "internal"), nullptr);
    EXPECT_NE(find_pool(c, "edge"), nullptr);
    EXPECT_EQ(effective_workers(*find_pool(c, "edge")), 4u);
    EXPECT_GE(effective_workers(*find_pool(c, "default")), 1u);

    const ServerNameTable table = server_name_table(c, "public");
    EXPECT_EQ(table.lookup("shop.example.com"), 0u);
    EXPECT_EQ(table.lookup("eu.shop.example.com"), 0u);
    EXPECT_EQ(table.lookup("api.example.com"), 1u);
    EXPECT_EQ(table.lookup("legacy.example.com"), std::nullopt);  // other listener
    EXPECT_EQ(server_name_table(c, "internal").lookup("legacy.example.com"), 3u);
}

TEST(ConfigLoad, TheDocumentedExampleIsTheFixture) {
    // docs/config.md embeds tests/data/config/full.yaml verbatim; keep them in sync.
    std::ifstream doc(fs::path(SNI_SOURCE_DIR) / "docs" / "config.md");
    std::ifstream fixture(kDataDir / "full.yaml");
    ASSERT_TRUE(doc && fixture);
    const std::string doc_text{std::istreambuf_iterator<char>(doc), {}};
    std::string fixture_text{std::istreambuf_iterator<char>(fixture), {}};
    // The fixture's first line is a comment that the doc leaves out.
    fixture_text = fixture_text.substr(fixture_text.find('\n') + 1);
    EXPECT_NE(doc_text.find(fixture_text), std::string::npos)
        << "docs/config.md does not contain tests/data/config/full.yaml verbatim";
}

}  // namespace
}  // namespace sni::config
