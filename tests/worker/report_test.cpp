// sni-worker's reports to the daemon (common/conn_report.hpp) and its JSON access log, through
// a real worker: the test reads the reports on its end of the handoff channel.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "common/conn_report.hpp"
#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

using conn_report::CloseReason;
using conn_report::Event;
using conn_report::Report;

// Reads reports from the channel until `pred` holds or `timeout` passes.
std::vector<Report> read_reports(int channel,
                                 const std::function<bool(const std::vector<Report> &)> &pred,
                                 std::chrono::milliseconds timeout = 10s) {
    std::vector<Report> out;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (!pred(out) && std::chrono::steady_clock::now() < until) {
        pollfd p{channel, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        std::vector<std::uint8_t> buf(conn_report::kMaxBatch * sizeof(Report) + 64);
        const ssize_t n = ::recv(channel, buf.data(), buf.size(), MSG_DONTWAIT);
        if (n <= 0) continue;
        const auto rs = conn_report::decode_all({buf.data(), static_cast<std::size_t>(n)});
        EXPECT_TRUE(rs) << "a datagram that is not a batch of reports, " << n << " bytes";
        if (rs) out.insert(out.end(), rs->begin(), rs->end());
    }
    return out;
}

bool has_closed(const std::vector<Report> &rs) {
    for (const auto &r : rs)
        if (r.event == Event::kClosed) return true;
    return false;
}

using ReportTest = WorkerTest;

TEST_F(ReportTest, ReadyOpenedClosedForOneConnection) {
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("twelve bytes"));
    EXPECT_EQ(c.stream->read_exactly(12).value_or(""), "twelve bytes");
    c.stream->half_close();
    EXPECT_EQ(c.stream->read_to_eof().value_or("?"), "");

    const auto rs = read_reports(worker_->channel(), has_closed);
    ASSERT_EQ(rs.size(), 3u);
    EXPECT_EQ(rs[0].event, Event::kReady);
    const Report &o = rs[1];
    const Report &x = rs[2];
    EXPECT_EQ(o.event, Event::kOpened);
    EXPECT_EQ(x.event, Event::kClosed);
    for (const Report *p : {&o, &x}) {
        EXPECT_EQ(p->conn_id, 1u);
        EXPECT_EQ(p->route_id, 0u);
        EXPECT_EQ(p->listener_id, 0u);
        EXPECT_EQ(p->client.version.view(), "TLSv1.3");
        EXPECT_FALSE(p->client.cipher.view().empty());
        EXPECT_EQ(p->backend.version.view(), "");
        EXPECT_EQ(p->backend_server, 0);
        EXPECT_EQ(p->backend_addr.view(), backend.address());
        EXPECT_EQ(p->client_addr.view().rfind("127.0.0.1:", 0), 0u);
        EXPECT_GT(p->backend_connected_us, 0u);
        EXPECT_GT(p->client_handshake_us, 0u);
        EXPECT_EQ(p->dropped_reports, 0u);
    }
    EXPECT_EQ(o.reason, CloseReason::kNone);
    EXPECT_EQ(x.reason, CloseReason::kClosed);
    EXPECT_EQ(x.bytes_up, 12u);
    EXPECT_EQ(x.bytes_down, 12u);
    EXPECT_GE(x.duration_us, x.client_handshake_us);
    EXPECT_EQ(x.failed_servers, 0u);
}

TEST_F(ReportTest, UnreachableBackendIsReportedAsClosedWithItsReason) {
    RefusedPort refused;
    RouteSpec r;
    r.mode = "passthrough";
    r.servers = {"127.0.0.1:" + std::to_string(refused.port())};
    start({r});
    ClientResult c = connect(0, sni("p.test"));
    EXPECT_FALSE(c.stream);
    const auto rs = read_reports(worker_->channel(), has_closed);
    ASSERT_EQ(rs.size(), 2u);  // ready, closed: it never opened
    EXPECT_EQ(rs[1].event, Event::kClosed);
    EXPECT_EQ(rs[1].reason, CloseReason::kBackendUnreachable);
    EXPECT_EQ(rs[1].failed_servers, 1u);
    EXPECT_EQ(rs[1].backend_connected_us, 0u);
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "outcome"), "error") << line;
    EXPECT_EQ(field(line, "close_reason"), "backend_unreachable") << line;
    EXPECT_EQ(field(line, "time_to_backend_ms"), "-") << line;
}

// Active health checks: one "health" report per server at start (up, no probe yet), then one
// per probe with the verdict, the running totals and the probe's error.
TEST_F(ReportTest, HealthReportsAtStartAndAfterEachProbe) {
    RefusedPort refused;
    RouteSpec r;
    r.mode = "passthrough";
    r.servers = {"127.0.0.1:" + std::to_string(refused.port())};
    r.backend_extra = {"health_check: {type: tcp, interval: 100ms, timeout: 100ms, fall: 2}"};
    start({r});
    auto down = [](const std::vector<Report> &rs) {
        for (const auto &x : rs)
            if (x.event == Event::kHealth && x.server_down != 0) return true;
        return false;
    };
    const auto rs = read_reports(worker_->channel(), down);
    std::vector<Report> health;
    for (const auto &x : rs)
        if (x.event == Event::kHealth) health.push_back(x);
    ASSERT_GE(health.size(), 3u);  // start, first failure (still up: fall 2), down
    EXPECT_EQ(health[0].server_down, 0);
    EXPECT_EQ(health[0].checks_passed + health[0].checks_failed, 0u);
    EXPECT_EQ(health[1].server_down, 0);
    EXPECT_EQ(health[1].checks_failed, 1u);
    const Report &last = health.back();
    EXPECT_EQ(last.server_down, 1);
    EXPECT_EQ(last.checks_failed, 2u);
    EXPECT_EQ(last.checks_passed, 0u);
    EXPECT_EQ(last.route_id, 0u);
    EXPECT_EQ(last.backend_server, 0);
    EXPECT_EQ(last.backend_addr.view(), r.servers[0]);
    EXPECT_NE(last.health_reason.view().find("refused"), std::string_view::npos)
        << last.health_reason.view();
}

// The bytes a JSON string stood for (json::append_string writes each byte as one code point).
std::string bytes_of(const std::string &utf8) {
    std::string out;
    for (std::size_t i = 0; i < utf8.size(); ++i) {
        const auto c = static_cast<unsigned char>(utf8[i]);
        if (c < 0x80) {
            out += static_cast<char>(c);
        } else {
            out += static_cast<char>(((c & 0x1f) << 6) | (utf8[i + 1] & 0x3f));
            ++i;
        }
    }
    return out;
}

TEST_F(ReportTest, HostileAlpnCannotBreakTheAccessLog) {
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    start({r});
    const std::vector<std::string> hostile = {
        "h2\",\"route\":\"forged", "a\nb\r{\"x\":1}",      std::string("\0\x7f\xff", 3),
        "\xe2\x80\xa8sep",         std::string(200, '\\'),
    };
    ClientResult c = connect(0, sni("r.test").protocols(hostile));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("x"));
    EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "x");
    c.stream->half_close();
    EXPECT_EQ(c.stream->read_to_eof().value_or("?"), "");
    ASSERT_TRUE(wait_access_lines(1));
    const auto lines = access_lines();
    ASSERT_EQ(lines.size(), 1u) << worker_->log();
    const auto j = nlohmann::json::parse(lines[0]);
    EXPECT_EQ(j["route"], "r");
    EXPECT_EQ(j["listener"], "public");
    EXPECT_EQ(j["outcome"], "ok");
    std::string joined;
    for (const auto &p : hostile) joined += (joined.empty() ? "" : ",") + p;
    EXPECT_EQ(bytes_of(j["alpn_offered"].get<std::string>()), joined);
    // No line was broken: every line of the worker's output is a logfmt line or a JSON object.
    std::istringstream in(worker_->log());
    for (std::string line; std::getline(in, line);) {
        if (line.empty()) continue;
        if (line.front() == '{')
            EXPECT_FALSE(nlohmann::json::parse(line, nullptr, false).is_discarded()) << line;
        else
            EXPECT_EQ(line.rfind("ts=", 0), 0u) << line;
    }
}

}  // namespace
}  // namespace sni::wtest
