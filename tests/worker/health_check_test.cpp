// Active health checks: a server that dies is taken out before any client meets it and is
// brought back in when it returns; a route with no healthy server answers with an alert at
// once; a tls check counts a backend whose certificate fails verification as down.
#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

class HealthCheckTest : public WorkerTest {
  protected:
    // One echo round trip through route 0; returns the access-log line of the connection.
    std::string round_trip() {
        const std::size_t before = access_lines().size();
        ClientResult c = connect(0, sni("r.test"));
        EXPECT_TRUE(c.stream) << c.error;
        if (!c.stream) return "";
        EXPECT_TRUE(c.stream->write_all("x"));
        EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "x");
        c.stream.reset();
        EXPECT_TRUE(wait_access_lines(before + 1));
        const auto lines = access_lines();
        return lines.size() > before ? lines[before] : "";
    }

    // The log lines with this message.
    std::vector<std::string> lines_with(const std::string &msg) const {
        std::vector<std::string> out;
        std::istringstream in(worker_->log());
        for (std::string line; std::getline(in, line);)
            if (line.find("msg=\"" + msg + "\"") != std::string::npos) out.push_back(line);
        return out;
    }
};

constexpr const char *kFastTcpCheck =
    "health_check: {type: tcp, interval: 100ms, timeout: 100ms, rise: 2, fall: 2}";

TEST_F(HealthCheckTest, TakesDeadServerOutAndBringsItBackIn) {
    auto a = std::make_unique<BackendServer>(nullptr, BackendOptions{});
    const std::uint16_t a_port = a->port();
    const std::string a_addr = a->address();
    BackendServer b(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {a_addr, b.address()};
    r.backend_extra = {kFastTcpCheck};
    start({r});

    std::set<std::string> seen;
    for (int i = 0; i < 2; ++i) seen.insert(field(round_trip(), "backend"));
    EXPECT_EQ(seen, (std::set<std::string>{a_addr, b.address()}));

    a.reset();  // the server dies: its port now refuses
    ASSERT_TRUE(worker_->wait_log_contains("backend server down", 5s));
    const auto down = lines_with("backend server down");
    ASSERT_EQ(down.size(), 1u);
    EXPECT_EQ(field(down[0], "server"), a_addr) << down[0];
    EXPECT_NE(field(down[0], "reason").find("Connection refused"), std::string::npos) << down[0];
    for (int i = 0; i < 4; ++i) {
        const std::string line = round_trip();
        EXPECT_EQ(field(line, "backend"), b.address()) << line;
        EXPECT_EQ(field(line, "attempts"), "1") << line;  // the dead one is not even tried
    }
    EXPECT_EQ(worker_->count_in_log("backend connect failed"), 0u);

    BackendOptions again;
    again.port = a_port;  // the server comes back on its address
    a = std::make_unique<BackendServer>(nullptr, again);
    ASSERT_TRUE(worker_->wait_log_contains("backend server up", 5s));
    const auto up = lines_with("backend server up");
    ASSERT_EQ(up.size(), 1u);
    EXPECT_EQ(field(up[0], "server"), a_addr) << up[0];
    EXPECT_EQ(field(up[0], "passed"), "2") << up[0];
    seen.clear();
    for (int i = 0; i < 2; ++i) seen.insert(field(round_trip(), "backend"));
    EXPECT_EQ(seen, (std::set<std::string>{a_addr, b.address()}));
}

// Every server down by the checks: the client gets internal_error at once, and no connect is
// even attempted.
TEST_F(HealthCheckTest, NoHealthyServerAnswersWithAlertAtOnce) {
    RefusedPort refused;
    RouteSpec r;
    r.servers = {"127.0.0.1:" + std::to_string(refused.port())};
    r.backend_extra = backend_tls();
    r.backend_extra.push_back(
        "health_check: {type: tcp, interval: 100ms, timeout: 100ms, fall: 1}");
    start({r});
    ASSERT_TRUE(worker_->wait_log_contains("backend server down", 5s));
    ClientResult c = connect(0, sni("r.test"));
    EXPECT_FALSE(c.stream);
    EXPECT_EQ(c.alert_received, SSL_AD_INTERNAL_ERROR) << c.error;
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "attempts"), "0") << line;
    EXPECT_EQ(field(line, "reason"), "backend unreachable: no healthy server") << line;
    EXPECT_EQ(worker_->count_in_log("backend connect failed"), 0u);
}

// A tls check makes a full handshake with the route's backend TLS settings: a backend whose
// certificate is signed by another CA is down (a tcp check would call it up), the good one
// stays up and takes every connection.
TEST_F(HealthCheckTest, TlsCheckCountsBadCertificateAsDown) {
    BackendServer rogue(
        make_backend_ctx(rogue_backend_.cert, rogue_backend_.key, TLS1_2_VERSION, TLS1_3_VERSION),
        {});
    BackendServer good(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    RouteSpec r;
    r.servers = {rogue.address(), good.address()};
    r.backend_extra = backend_tls();
    r.backend_extra.push_back(
        "health_check: {type: tls, interval: 100ms, timeout: 100ms, rise: 1, fall: 1}");
    start({r});
    ASSERT_TRUE(worker_->wait_log_contains("backend server down", 5s));
    const auto down = lines_with("backend server down");
    ASSERT_EQ(down.size(), 1u);
    EXPECT_EQ(field(down[0], "server"), rogue.address()) << down[0];
    EXPECT_EQ(field(down[0], "check"), "tls") << down[0];
    EXPECT_NE(field(down[0], "reason").find("certificate verify failed"), std::string::npos)
        << down[0];
    // The good backend passes its checks (several full handshakes) and takes the traffic.
    ASSERT_TRUE(good.wait_done(2));
    for (int i = 0; i < 3; ++i) {
        const std::string line = round_trip();
        EXPECT_EQ(field(line, "backend"), good.address()) << line;
        EXPECT_EQ(field(line, "attempts"), "1") << line;
    }
    for (const auto &rec : good.records()) {
        if (!rec.done) continue;  // a probe still in its handshake
        EXPECT_EQ(rec.sni, "backend.internal");
    }
    EXPECT_TRUE(lines_with("backend server up").empty());
}

}  // namespace
}  // namespace sni::wtest
