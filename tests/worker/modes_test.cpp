// Modes terminate (plain TCP to the backend) and passthrough (the client's TLS relayed
// untouched), and the PROXY v2 header in every mode.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

using ModesTest = WorkerTest;

std::string local_address(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    char buf[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a.sin_addr, buf, sizeof buf);
    return std::string(buf) + ":" + std::to_string(ntohs(a.sin_port));
}

TEST_F(ModesTest, TerminateSpeaksPlainTcpToBackend) {
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    EXPECT_EQ(c.peer_cn, "route.test");
    ASSERT_TRUE(c.stream->write_all("plain please"));
    EXPECT_EQ(c.stream->read_exactly(12).value_or(""), "plain please");
    c.stream->half_close();
    EXPECT_EQ(c.stream->read_to_eof().value_or("?"), "");
    ASSERT_TRUE(backend.wait_done(1));
    EXPECT_EQ(backend.records().at(0).received, "plain please");
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "mode"), "terminate");
    EXPECT_EQ(field(line, "backend_version"), "-");
    EXPECT_EQ(field(line, "reason"), "closed") << line;
}

TEST_F(ModesTest, PassthroughClientSeesBackendCertificate) {
    BackendServer backend(
        make_backend_ctx(pass_backend_.cert, pass_backend_.key, TLS1_2_VERSION, TLS1_3_VERSION),
        {});
    RouteSpec r;
    r.mode = "passthrough";
    r.servers = {backend.address()};
    start({r});
    ClientResult c = connect(0, sni("p.test"));
    ASSERT_TRUE(c.stream) << c.error;
    EXPECT_EQ(c.peer_cn, "passthrough.backend");
    ASSERT_TRUE(c.stream->write_all("through"));
    EXPECT_EQ(c.stream->read_exactly(7).value_or(""), "through");
    c.stream->half_close();
    EXPECT_EQ(c.stream->read_to_eof().value_or("?"), "");
    ASSERT_TRUE(backend.wait_done(1));
    EXPECT_EQ(backend.records().at(0).sni, "p.test");
    EXPECT_EQ(backend.records().at(0).received, "through");
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "mode"), "passthrough");
    EXPECT_EQ(field(line, "client_version"), "-");
    EXPECT_EQ(field(line, "splice_up"), "true");
    EXPECT_EQ(field(line, "splice_down"), "true");
    EXPECT_EQ(field(line, "outcome"), "ok") << line;
}

class ProxyV2 : public WorkerTest, public ::testing::WithParamInterface<std::string> {};

// The header carries the client's address, the address it connected to, the SNI and (when
// the worker terminates TLS) the negotiated ALPN; TLS to the backend starts after it.
TEST_P(ProxyV2, SendsHeaderFirst) {
    const std::string mode = GetParam();
    CtxPtr ctx;
    if (mode == "reencrypt")
        ctx = make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION);
    if (mode == "passthrough")
        ctx =
            make_backend_ctx(pass_backend_.cert, pass_backend_.key, TLS1_2_VERSION, TLS1_3_VERSION);
    BackendServer backend(std::move(ctx), with_proxy_v2());
    RouteSpec r;
    r.mode = mode;
    r.servers = {backend.address()};
    if (mode == "reencrypt") r.backend_extra = backend_tls();
    r.backend_extra.push_back("proxy_protocol: v2");
    if (mode != "passthrough") r.tls_extra = {"alpn: [h2]"};
    start({r});
    ClientResult c = connect(0, sni("r.test").protocols({"h2"}));
    ASSERT_TRUE(c.stream) << c.error;
    const std::string client_addr = local_address(c.stream->fd());
    ASSERT_TRUE(c.stream->write_all("after header"));
    EXPECT_EQ(c.stream->read_exactly(12).value_or(""), "after header");
    c.stream.reset();
    ASSERT_TRUE(backend.wait_done(1));
    const auto rec = backend.records().at(0);
    ASSERT_TRUE(rec.proxy) << rec.error;
    EXPECT_EQ(rec.proxy->source, client_addr);
    EXPECT_EQ(rec.proxy->destination, "127.0.0.1:" + std::to_string(frontend_.port()));
    EXPECT_EQ(rec.proxy->authority, "r.test");
    EXPECT_EQ(rec.proxy->alpn, mode == "passthrough" ? "" : "h2");
    EXPECT_EQ(rec.received, "after header");
}

INSTANTIATE_TEST_SUITE_P(Modes, ProxyV2, ::testing::Values("reencrypt", "terminate", "passthrough"),
                         [](const auto &info) { return std::string(info.param); });

}  // namespace
}  // namespace sni::wtest
