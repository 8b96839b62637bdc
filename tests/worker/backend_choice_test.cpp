// Backend choice: failover to another server when a connect fails, the internal_error alert
// when none can be reached, load balancing and passive ejection.
#include <gtest/gtest.h>

#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

using BackendChoiceTest = WorkerTest;

TEST_F(BackendChoiceTest, FailsOverWhenFirstServerRefuses) {
    RefusedPort refused;
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    RouteSpec r;
    r.servers = {"127.0.0.1:" + std::to_string(refused.port()), backend.address()};
    r.backend_extra = backend_tls();
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("failover"));
    EXPECT_EQ(c.stream->read_exactly(8).value_or(""), "failover");
    c.stream.reset();
    ASSERT_TRUE(backend.wait_done(1));
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "attempts"), "2") << line;
    EXPECT_EQ(field(line, "backend"), backend.address());
    EXPECT_TRUE(worker_->wait_log_contains("backend connect failed"));
}

// A server that never answers the SYN: after connect_timeout the next server is tried.
TEST_F(BackendChoiceTest, FailsOverAfterConnectTimeout) {
    BlackholePort hole;
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {"127.0.0.1:" + std::to_string(hole.port()), backend.address()};
    r.backend_extra = {"connect_timeout: 300ms"};
    start({r});
    const auto t0 = std::chrono::steady_clock::now();
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 250ms);
    ASSERT_TRUE(c.stream->write_all("late"));
    EXPECT_EQ(c.stream->read_exactly(4).value_or(""), "late");
    c.stream.reset();
    ASSERT_TRUE(wait_access_lines(1));
    EXPECT_EQ(field(access_lines().at(0), "attempts"), "2");
    EXPECT_TRUE(worker_->wait_log_contains("error=\"connect timeout\""));
}

class Unreachable : public WorkerTest, public ::testing::WithParamInterface<std::string> {};

// No server accepts: a TLS-terminating route answers with a fatal internal_error alert (80)
// before any key exchange; passthrough just closes.
TEST_P(Unreachable, AnswersClient) {
    const std::string mode = GetParam();
    RefusedPort a, b;
    RouteSpec r;
    r.mode = mode;
    r.servers = {"127.0.0.1:" + std::to_string(a.port()), "127.0.0.1:" + std::to_string(b.port())};
    if (mode == "reencrypt") r.backend_extra = backend_tls();
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    EXPECT_FALSE(c.stream);
    if (mode == "passthrough") {
        EXPECT_EQ(c.alert_received, -1) << c.error;
    } else {
        EXPECT_EQ(c.alert_received, SSL_AD_INTERNAL_ERROR) << c.error;
        EXPECT_NE(c.error.find("internal error"), std::string::npos) << c.error;
    }
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "attempts"), "2") << line;
    EXPECT_EQ(field(line, "reason").rfind("backend unreachable", 0), 0u) << line;
}

INSTANTIATE_TEST_SUITE_P(Modes, Unreachable,
                         ::testing::Values("reencrypt", "terminate", "passthrough"),
                         [](const auto &info) { return std::string(info.param); });

// Weighted round robin: weights 1 and 3 give 1 and 3 of every 4 connections.
TEST_F(BackendChoiceTest, WeightedRoundRobin) {
    BackendServer one(nullptr, {}), three(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {"{address: \"" + one.address() + "\", weight: 1}",
                 "{address: \"" + three.address() + "\", weight: 3}"};
    start({r});
    for (int i = 0; i < 8; ++i) {
        ClientResult c = connect(0, sni("r.test"));
        ASSERT_TRUE(c.stream) << c.error;
        ASSERT_TRUE(c.stream->write_all("x"));
        EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "x");
    }
    ASSERT_TRUE(wait_access_lines(8));
    EXPECT_EQ(one.accepted(), 2u);
    EXPECT_EQ(three.accepted(), 6u);
}

// Least connections: with one long-lived connection on a server, new ones go to the other.
TEST_F(BackendChoiceTest, LeastConnections) {
    BackendServer a(nullptr, {}), b(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {a.address(), b.address()};
    r.backend_extra = {"balance: leastconn"};
    start({r});
    ClientResult held = connect(0, sni("r.test"));
    ASSERT_TRUE(held.stream) << held.error;
    ASSERT_TRUE(held.stream->write_all("h"));
    EXPECT_EQ(held.stream->read_exactly(1).value_or(""), "h");
    const bool on_a = a.accepted() == 1;
    for (int i = 0; i < 3; ++i) {
        ClientResult c = connect(0, sni("r.test"));
        ASSERT_TRUE(c.stream) << c.error;
        ASSERT_TRUE(c.stream->write_all("x"));
        EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "x");
        c.stream->half_close();
        EXPECT_TRUE(c.stream->read_to_eof());
        ASSERT_TRUE(wait_access_lines(i + 1));
    }
    EXPECT_EQ(on_a ? a.accepted() : b.accepted(), 1u);
    EXPECT_EQ(on_a ? b.accepted() : a.accepted(), 3u);
}

// A server that keeps refusing is ejected and no longer tried first.
TEST_F(BackendChoiceTest, EjectsFailingServer) {
    RefusedPort refused;
    BackendServer good(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {"127.0.0.1:" + std::to_string(refused.port()), good.address()};
    start({r});
    for (int i = 0; i < 10; ++i) {
        ClientResult c = connect(0, sni("r.test"));
        ASSERT_TRUE(c.stream) << c.error;
        ASSERT_TRUE(c.stream->write_all("x"));
        EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "x");
    }
    ASSERT_TRUE(wait_access_lines(10));
    EXPECT_TRUE(worker_->wait_log_contains("backend server ejected"));
    EXPECT_EQ(worker_->count_in_log("backend connect failed"), 3u);
    const auto lines = access_lines();
    EXPECT_EQ(field(lines.back(), "attempts"), "1");
    EXPECT_EQ(good.accepted(), 10u);
}

}  // namespace
}  // namespace sni::wtest
