// Mode reencrypt: the worker terminates the client's TLS with the route's certificate and opens
// its own TLS connection to the backend (SNI, versions, verification, ALPN, resumption).
#include <gtest/gtest.h>

#include <atomic>
#include <tuple>

#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

struct VersionName {
    int id;
    const char *config;   // "1.2"
    const char *openssl;  // "TLSv1.2"
};
constexpr VersionName kVersions[] = {{TLS1_VERSION, "1.0", "TLSv1"},
                                     {TLS1_1_VERSION, "1.1", "TLSv1.1"},
                                     {TLS1_2_VERSION, "1.2", "TLSv1.2"},
                                     {TLS1_3_VERSION, "1.3", "TLSv1.3"}};

std::string underscore(std::string s) {
    for (auto &c : s)
        if (c == '.') c = '_';
    return s;
}

class VersionMatrix : public WorkerTest,
                      public ::testing::WithParamInterface<std::tuple<int, int>> {};

// Client TLS 1.0..1.3 x backend TLS 1.0..1.3: the client gets the route's certificate, the
// backend gets the route's SNI, both legs negotiate the expected version, and data flows.
// Legacy clients (1.0/1.1) need the route's client side opened to them (min_version "1.0",
// security_level 0), as a route for old clients in front of modern backends does.
TEST_P(VersionMatrix, ReencryptsWithBothVersions) {
    const VersionName &cv = kVersions[std::get<0>(GetParam())];
    const VersionName &bv = kVersions[std::get<1>(GetParam())];
    BackendServer backend(make_backend_ctx(backend_.cert, backend_.key, bv.id, bv.id), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = backend_tls(bv.config, bv.config);
    if (cv.id < TLS1_2_VERSION) r.tls_extra = {"min_version: \"1.0\"", "security_level: 0"};
    start({r});

    ClientResult c = connect(0, sni("r.test").versions(cv.id, cv.id));
    ASSERT_TRUE(c.stream) << c.error;
    EXPECT_EQ(c.peer_cn, "route.test");
    EXPECT_EQ(c.version, cv.openssl);
    ASSERT_TRUE(c.stream->write_all("ping"));
    auto echo = c.stream->read_exactly(4);
    ASSERT_TRUE(echo) << c.stream->last_error;
    EXPECT_EQ(*echo, "ping");
    c.stream->half_close();
    auto rest = c.stream->read_to_eof();
    ASSERT_TRUE(rest) << c.stream->last_error;
    EXPECT_EQ(*rest, "");

    ASSERT_TRUE(backend.wait_done(1));
    const auto rec = backend.records().at(0);
    EXPECT_EQ(rec.error, "");
    EXPECT_EQ(rec.sni, "backend.internal");
    EXPECT_EQ(rec.version, bv.openssl);
    EXPECT_EQ(rec.received, "ping");

    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "client_version"), cv.openssl);
    EXPECT_EQ(field(line, "backend_version"), bv.openssl);
    EXPECT_EQ(field(line, "sni"), "r.test");
    EXPECT_EQ(field(line, "outcome"), "ok") << line;
}

INSTANTIATE_TEST_SUITE_P(ClientXBackend, VersionMatrix,
                         ::testing::Combine(::testing::Values(0, 1, 2, 3),
                                            ::testing::Values(0, 1, 2, 3)),
                         [](const auto &info) {
                             return underscore(
                                 std::string("client") + kVersions[std::get<0>(info.param)].config +
                                 "_backend" + kVersions[std::get<1>(info.param)].config);
                         });

using ReencryptTest = WorkerTest;

// Several sites on one listener, each re-encrypted to its own backend with that backend's own
// SNI and versions: one worker serves both routes side by side.
TEST_F(ReencryptTest, EachRouteUsesItsOwnBackendSniAndVersion) {
    BackendServer one(make_backend_ctx(backend_.cert, backend_.key, TLS1_3_VERSION, TLS1_3_VERSION),
                      {});
    BackendServer two(make_backend_ctx(backend_.cert, backend_.key, TLS1_VERSION, TLS1_VERSION),
                      {});
    RouteSpec a;
    a.name = "shop";
    a.servers = {one.address()};
    a.backend_extra = backend_tls("1.3", "1.3");
    RouteSpec b;
    b.name = "legacy";
    b.servers = {two.address()};
    b.backend_extra = {"sni: app.route.test", "min_version: \"1.0\"", "max_version: \"1.0\"",
                       "security_level: 0",
                       "verify: {ca: \"" + ca_.cert.string() + "\", name: app.route.test}"};
    start({a, b});
    for (std::uint32_t route : {0u, 1u, 0u, 1u}) {
        ClientResult c = connect(route, sni(route == 0 ? "shop.test" : "legacy.test"));
        ASSERT_TRUE(c.stream) << c.error;
        EXPECT_EQ(c.version, "TLSv1.3");
        ASSERT_TRUE(c.stream->write_all("x"));
        EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "x");
    }
    ASSERT_TRUE(one.wait_done(2));
    ASSERT_TRUE(two.wait_done(2));
    for (const auto &rec : one.records()) {
        EXPECT_EQ(rec.sni, "backend.internal");
        EXPECT_EQ(rec.version, "TLSv1.3");
    }
    for (const auto &rec : two.records()) {
        EXPECT_EQ(rec.sni, "app.route.test");
        EXPECT_EQ(rec.version, "TLSv1");
    }
    ASSERT_TRUE(wait_access_lines(4));
    for (const auto &line : access_lines())
        EXPECT_EQ(field(line, "sni"), field(line, "route") + ".test") << line;
}

// TLS 1.3 suites: with none configured both legs prefer AES-128-GCM (kDefaultCiphersuites),
// although the test client and the backend list OpenSSL's default order (AES-256-GCM first);
// a route's own `ciphersuites` on either side wins.
TEST_F(ReencryptTest, Tls13SuitesDefaultToAes128AndFollowTheRoute) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_3_VERSION, TLS1_3_VERSION), {});
    RouteSpec plain;
    plain.name = "plain";
    plain.servers = {backend.address()};
    plain.backend_extra = backend_tls("1.3", "1.3");
    RouteSpec chosen = plain;
    chosen.name = "chosen";
    chosen.tls_extra = {"ciphersuites: \"TLS_AES_256_GCM_SHA384\""};
    chosen.backend_extra.push_back("ciphersuites: \"TLS_CHACHA20_POLY1305_SHA256\"");
    start({plain, chosen});

    const char *const front[] = {"TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384"};
    const char *const back[] = {"TLS_AES_128_GCM_SHA256", "TLS_CHACHA20_POLY1305_SHA256"};
    for (std::uint32_t route : {0u, 1u}) {
        ClientResult c = connect(route, sni(route == 0 ? "plain.test" : "chosen.test"));
        ASSERT_TRUE(c.stream) << c.error;
        EXPECT_EQ(c.cipher, front[route]);
        ASSERT_TRUE(c.stream->write_all("x"));
        EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "x");
        c.stream.reset();
        ASSERT_TRUE(backend.wait_done(route + 1));
        EXPECT_EQ(backend.records().at(route).cipher, back[route]);
    }
}

// sni: $client sends the client's own name; verification then checks that name.
TEST_F(ReencryptTest, ForwardsClientSni) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = {"sni: $client", "verify: {ca: \"" + ca_.cert.string() + "\"}"};
    start({r});
    ClientResult c = connect(0, sni("app.route.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("x"));
    EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "x");
    c.stream.reset();
    ASSERT_TRUE(backend.wait_done(1));
    EXPECT_EQ(backend.records().at(0).sni, "app.route.test");
}

// The route prefers h2; the backend insists on h2 and gets it forwarded.
TEST_F(ReencryptTest, ForwardsNegotiatedAlpn) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION),
        requiring_alpn("h2"));
    RouteSpec r;
    r.servers = {backend.address()};
    r.tls_extra = {"alpn: [h2, http/1.1]"};
    r.backend_extra = backend_tls();
    start({r});
    ClientResult c = connect(0, sni("r.test").protocols({"http/1.1", "h2"}));
    ASSERT_TRUE(c.stream) << c.error;
    EXPECT_EQ(c.alpn, "h2");
    ASSERT_TRUE(c.stream->write_all("frame"));
    EXPECT_EQ(c.stream->read_exactly(5).value_or(""), "frame");
    c.stream.reset();
    ASSERT_TRUE(backend.wait_done(1));
    EXPECT_EQ(backend.records().at(0).alpn, "h2");
    EXPECT_EQ(backend.records().at(0).error, "");
    ASSERT_TRUE(wait_access_lines(1));
    EXPECT_EQ(field(access_lines().at(0), "backend_alpn"), "h2");
}

// A fixed ALPN list is offered as configured, whatever the client negotiated.
TEST_F(ReencryptTest, OffersConfiguredAlpnList) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION),
        requiring_alpn("http/1.1"));
    RouteSpec r;
    r.servers = {backend.address()};
    r.tls_extra = {"alpn: [h2]"};
    r.backend_extra = backend_tls();
    r.backend_extra.push_back("alpn: [http/1.1]");
    start({r});
    ClientResult c = connect(0, sni("r.test").protocols({"h2"}));
    ASSERT_TRUE(c.stream) << c.error;
    EXPECT_EQ(c.alpn, "h2");
    ASSERT_TRUE(c.stream->write_all("y"));
    EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "y");
    c.stream.reset();
    ASSERT_TRUE(backend.wait_done(1));
    EXPECT_EQ(backend.records().at(0).alpn, "http/1.1");
}

// ECDSA and RSA certificates side by side: OpenSSL picks what the client can verify.
TEST_F(ReencryptTest, PicksEcdsaOrRsaCertificate) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = backend_tls();
    start({r});
    ClientResult ec = connect(0, sni("r.test").signature_algorithms("ECDSA+SHA256"));
    ASSERT_TRUE(ec.stream) << ec.error;
    EXPECT_EQ(ec.peer_key, "EC");
    ClientResult rsa =
        connect(0, sni("r.test").signature_algorithms("rsa_pss_rsae_sha256:RSA+SHA256"));
    ASSERT_TRUE(rsa.stream) << rsa.error;
    EXPECT_EQ(rsa.peer_key, "RSA");
    EXPECT_EQ(rsa.peer_cn, "route.test");
    ClientResult rsa12 = connect(
        0,
        sni("r.test").versions(TLS1_2_VERSION, TLS1_2_VERSION).signature_algorithms("RSA+SHA256"));
    ASSERT_TRUE(rsa12.stream) << rsa12.error;
    EXPECT_EQ(rsa12.peer_key, "RSA");
}

// The OCSP response file of a certificate is stapled when the client asks for it.
TEST_F(ReencryptTest, StaplesOcspResponse) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    const std::string response = std::string("\x30\x03\x0a\x01\x00", 5);  // DER, status 0
    write_file(tmp_.path() / "route.ocsp", response);
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = backend_tls();
    r.rsa_too = false;
    r.ocsp = (tmp_.path() / "route.ocsp").string();
    start({r});
    for (const int v : {TLS1_2_VERSION, TLS1_3_VERSION}) {
        ClientResult c = connect(0, sni("r.test").versions(v, v).ocsp());
        ASSERT_TRUE(c.stream) << c.error;
        EXPECT_EQ(std::string(c.ocsp.begin(), c.ocsp.end()), response) << "version " << v;
    }
}

// Backend sessions: resumed, not offered with `session_reuse: false`, and not offered for a
// while to a backend that refuses them. A backend made by backend_ctx() counts the ClientHellos
// that offer one (a TLS 1.3 PSK).
class BackendSessions : public WorkerTest {
  protected:
    static int count_psk_offers(SSL *ssl, int *, void *arg) {
        const unsigned char *ext = nullptr;
        std::size_t len = 0;
        if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_psk, &ext, &len) == 1)
            ++*static_cast<std::atomic<int> *>(arg);
        return SSL_CLIENT_HELLO_SUCCESS;
    }

    CtxPtr backend_ctx() {
        CtxPtr ctx = make_backend_ctx(backend_.cert, backend_.key, TLS1_3_VERSION, TLS1_3_VERSION);
        SSL_CTX_set_client_hello_cb(ctx.get(), &count_psk_offers, &offers_);
        return ctx;
    }

    // Connections first..last (1-based), each an echo through the worker, one at a time.
    void echo(BackendServer &backend, int first, int last) {
        for (int i = first; i <= last; ++i) {
            ClientResult c = connect(0, sni("r.test"));
            ASSERT_TRUE(c.stream) << c.error;
            ASSERT_TRUE(c.stream->write_all("hello"));
            EXPECT_EQ(c.stream->read_exactly(5).value_or(""), "hello");
            c.stream->half_close();
            EXPECT_TRUE(c.stream->read_to_eof());
            ASSERT_TRUE(backend.wait_done(i));
            ASSERT_TRUE(wait_access_lines(i));
        }
    }

    std::atomic<int> offers_{0};
};

class Resumption : public BackendSessions, public ::testing::WithParamInterface<int> {};

// The second connection to the same backend server resumes the first one's session, as the
// backend's own counters show.
TEST_P(Resumption, ResumesBackendSession) {
    const VersionName &bv = kVersions[GetParam()];
    BackendServer backend(make_backend_ctx(backend_.cert, backend_.key, bv.id, bv.id), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = backend_tls(bv.config, bv.config);
    start({r});
    echo(backend, 1, 2);
    const auto recs = backend.records();
    EXPECT_FALSE(recs.at(0).reused);
    EXPECT_TRUE(recs.at(1).reused);
    EXPECT_EQ(SSL_CTX_sess_hits(backend.ctx()), 1);
    EXPECT_EQ(field(access_lines().at(1), "backend_resumed"), "true");
}

INSTANTIATE_TEST_SUITE_P(Backend, Resumption, ::testing::Values(2, 3), [](const auto &info) {
    return underscore(std::string("tls") + kVersions[info.param].config);
});

TEST_F(BackendSessions, SessionReuseFalseNeverOffersOne) {
    BackendServer backend(backend_ctx(), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = backend_tls("1.3", "1.3");
    r.backend_extra.push_back("session_reuse: false");
    start({r});
    echo(backend, 1, 3);
    EXPECT_EQ(offers_.load(), 0);
    EXPECT_EQ(SSL_CTX_sess_hits(backend.ctx()), 0);
    for (const auto &rec : backend.records()) EXPECT_FALSE(rec.reused);
}

// Like nginx with `ssl_session_cache off; ssl_session_tickets off;`: two tickets per connection
// that the server can never look up. After three refused offers the worker stops offering for
// 16 connections, then offers one again.
TEST_F(BackendSessions, ABackendThatRefusesSessionsIsNotOfferedThemForAWhile) {
    CtxPtr ctx = backend_ctx();
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    BackendServer backend(std::move(ctx), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = backend_tls("1.3", "1.3");
    start({r});
    echo(backend, 1, 4);  // the first has nothing to offer; 2, 3 and 4 are refused
    EXPECT_EQ(offers_.load(), 3);
    EXPECT_TRUE(worker_->wait_log_contains("not_offered_for_connections=16"))
        << read_file(log_path_);
    echo(backend, 5, 20);
    EXPECT_EQ(offers_.load(), 3);
    echo(backend, 21, 21);  // the probe
    EXPECT_EQ(offers_.load(), 4);
    for (const auto &rec : backend.records()) EXPECT_FALSE(rec.reused);
}

// A backend certificate from another CA: the worker refuses it, the client is cut off, and
// the log says why.
TEST_F(ReencryptTest, BackendCertificateVerificationFails) {
    BackendServer backend(
        make_backend_ctx(rogue_backend_.cert, rogue_backend_.key, TLS1_2_VERSION, TLS1_3_VERSION),
        {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = backend_tls();
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    if (c.stream) {
        c.stream->write_all("secret");
        auto got = c.stream->read_some();
        EXPECT_TRUE(!got || got->empty()) << "unexpected data: " << *got;
    }
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "outcome"), "error");
    EXPECT_NE(field(line, "reason").find("certificate verify failed"), std::string::npos) << line;
    EXPECT_TRUE(worker_->wait_log_contains("backend handshake failed"));
    ASSERT_TRUE(backend.wait_done(1));
    EXPECT_EQ(backend.records().at(0).received, "");
}

// The wrong name fails too (the certificate is for backend.internal).
TEST_F(ReencryptTest, BackendNameMismatchFails) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = {"sni: other.internal", "verify: {ca: \"" + ca_.cert.string() + "\"}"};
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(wait_access_lines(1));
    EXPECT_NE(field(access_lines().at(0), "reason").find("hostname mismatch"), std::string::npos)
        << access_lines().at(0);
}

TEST_F(ReencryptTest, PinnedKeyAccepted) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = {"sni: backend.internal", "verify: {ca: \"" + ca_.cert.string() +
                                                    "\", pin_sha256: [\"" +
                                                    spki_pin_of(backend_.cert) + "\"]}"};
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("pin"));
    EXPECT_EQ(c.stream->read_exactly(3).value_or(""), "pin");
}

TEST_F(ReencryptTest, PinMismatchRejected) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = {"sni: backend.internal", "verify: {ca: \"" + ca_.cert.string() +
                                                    "\", pin_sha256: [\"" +
                                                    spki_pin_of(pass_backend_.cert) + "\"]}"};
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(wait_access_lines(1));
    const std::string reason = field(access_lines().at(0), "reason");
    EXPECT_NE(reason.find("matches no pin_sha256"), std::string::npos) << reason;
}

// Mutual TLS to the backend with the configured client certificate.
TEST_F(ReencryptTest, PresentsClientCertificate) {
    CtxPtr ctx = make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION);
    SSL_CTX_load_verify_file(ctx.get(), ca_.cert.c_str());
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    BackendServer backend(std::move(ctx), {});
    const CertFiles client = pki_.make_leaf("client", {"worker.client"}, ca_);
    RouteSpec r;
    r.servers = {backend.address()};
    r.backend_extra = backend_tls();
    r.backend_extra.push_back("client_certificate: {cert: \"" + client.cert.string() +
                              "\", key: \"" + client.key.string() + "\"}");
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("mtls"));
    EXPECT_EQ(c.stream->read_exactly(4).value_or(""), "mtls");
    c.stream.reset();
    ASSERT_TRUE(backend.wait_done(1));
    EXPECT_EQ(backend.records().at(0).error, "");
}

}  // namespace
}  // namespace sni::wtest
