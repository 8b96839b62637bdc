// The workers' reports in the daemon's metrics: sni-splitterd with the real sni-worker, one
// passthrough route to an echo backend on loopback; after known traffic the report-based
// metrics move by exactly that traffic, and the access log file gets one JSON line each. Also
// what sni-ctl shows of the workers' reports: an open connection's backend and TLS fields
// (`conns`), and a server's active health checks (`routes`, sni_backend_up).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <csignal>
#include <fstream>
#include <sstream>
#include <thread>

#include "ctl_support.hpp"
#include "harness.hpp"
#include "hello_builder.hpp"
#include "metrics_scrape.hpp"
#include "net_client.hpp"
#include "real_worker.hpp"

namespace sni::itest {
namespace {

TEST(WorkerMetrics, ReportsOfARealWorkerReachTheMetrics) {
    EchoBackend backend;
    RealWorkerDaemon d(
        "  - name: echo\n    listener: main\n    server_names: [echo.test]\n"
        "    mode: passthrough\n    backend: {servers: [\"127.0.0.1:" +
        std::to_string(backend.port()) + "\"]}\n");
    DaemonProcess &daemon = *d.daemon;
    const TempDir &dir = d.dir;
    const std::uint16_t ports[] = {d.main_port, d.metrics_port};
    ASSERT_TRUE(daemon.wait_ready()) << daemon.log();
    ASSERT_TRUE(wait_http_status(ports[1], "/readyz", 200, 10s)) << daemon.log();
    const auto before = parse_metrics(http_get(ports[1], "/metrics").body);

    std::uint64_t sent = 0;
    for (std::uint32_t i = 0; i < 2; ++i) {
        const Bytes hello = build_client_hello({.sni = "echo.test"});
        const Bytes payload = random_payload(1000 + i, 60 + i);
        UniqueFd fd = connect_tcp("127.0.0.1", ports[0]);
        ASSERT_TRUE(fd.valid());
        ASSERT_TRUE(send_all(fd.get(), hello));
        ASSERT_TRUE(send_all(fd.get(), payload));
        const ReadResult r = read_exactly(fd.get(), hello.size() + payload.size(), 5s);
        ASSERT_EQ(r.data.size(), hello.size() + payload.size());
        ::shutdown(fd.get(), SHUT_WR);
        EXPECT_TRUE(read_until_close(fd.get(), 5s).closed);
        sent += hello.size() + payload.size();
    }
    // The closed reports arrive right after the close; wait for both.
    std::map<std::string, double> after;
    const std::string closed_key =
        "sni_worker_connections_closed_total{route=\"echo\",reason=\"closed\"}";
    for (int i = 0; i < 100; ++i) {
        after = parse_metrics(http_get(ports[1], "/metrics").body);
        if (metric_delta(before, after, closed_key) >= 2) break;
        std::this_thread::sleep_for(50ms);
    }
    EXPECT_EQ(metric_delta(before, after, closed_key), 2);
    EXPECT_EQ(metric_delta(before, after, "sni_worker_connections_opened_total{route=\"echo\"}"),
              2);
    EXPECT_EQ(after.at("sni_worker_open_connections{route=\"echo\"}"), 0);
    EXPECT_EQ(metric_delta(before, after,
                           "sni_bytes_total{route=\"echo\",direction=\"client_to_backend\"}"),
              static_cast<double>(sent));
    EXPECT_EQ(metric_delta(before, after,
                           "sni_bytes_total{route=\"echo\",direction=\"backend_to_client\"}"),
              static_cast<double>(sent));
    EXPECT_EQ(metric_delta(before, after, "sni_time_to_backend_seconds_count{route=\"echo\"}"), 2);
    EXPECT_EQ(metric_delta(before, after, "sni_connection_duration_seconds_count{route=\"echo\"}"),
              2);
    EXPECT_EQ(metric_delta(before, after, "sni_reports_total{result=\"received\"}"), 4);
    EXPECT_EQ(after.at("sni_reports_total{result=\"dropped\"}"), 0);
    EXPECT_EQ(after.at("sni_workers{pool=\"default\",state=\"ready\"}"), 1);
    EXPECT_EQ(daemon.stop(), 0);
    // The access log: one JSON line per connection, in the configured file.
    std::ifstream log(dir.path() / "access.log");
    std::size_t lines = 0;
    for (std::string line; std::getline(log, line); ++lines) {
        EXPECT_NE(line.find("\"listener\":\"main\",\"route\":\"echo\""), std::string::npos) << line;
        EXPECT_NE(line.find("\"sni\":\"echo.test\""), std::string::npos) << line;
        EXPECT_NE(line.find("\"close_reason\":\"closed\""), std::string::npos) << line;
    }
    EXPECT_EQ(lines, 2u);
}

TEST(WorkerMetrics, ConnsShowsWhatTheWorkerReported) {
    EchoBackend backend;
    const std::string server = "127.0.0.1:" + std::to_string(backend.port());
    RealWorkerDaemon d(
        "  - name: echo\n    listener: main\n    server_names: [echo.test]\n"
        "    mode: passthrough\n    backend: {servers: [\"" +
        server + "\"]}\n");
    ASSERT_TRUE(d.daemon->wait_ready()) << d.daemon->log();
    ASSERT_TRUE(wait_http_status(d.metrics_port, "/readyz", 200, 10s)) << d.daemon->log();

    const Bytes hello = build_client_hello({.sni = "echo.test"});
    UniqueFd fd = connect_tcp("127.0.0.1", d.main_port);
    ASSERT_TRUE(fd.valid());
    ASSERT_TRUE(send_all(fd.get(), hello));
    ASSERT_EQ(read_exactly(fd.get(), hello.size(), 5s).data.size(), hello.size());

    // The "opened" report arrives right after the relay starts.
    nlohmann::json conn;
    for (int i = 0; i < 100 && conn.is_null(); ++i) {
        int code = -1;
        const auto j = ctl_json(d.socket, {"conns"}, &code);
        ASSERT_EQ(code, 0) << j;
        for (const auto &c : j["connections"])
            if (c.contains("backend")) conn = c;
        if (conn.is_null()) std::this_thread::sleep_for(50ms);
    }
    ASSERT_FALSE(conn.is_null()) << d.daemon->log();
    EXPECT_EQ(conn["phase"], "worker");
    EXPECT_EQ(conn["route"], "echo");
    EXPECT_EQ(conn["backend"], server);
    EXPECT_EQ(conn["worker"]["pool"], 0);
    EXPECT_GT(conn["worker"]["pid"].get<int>(), 0);
    EXPECT_TRUE(conn.contains("age_ms"));
    // Passthrough: no TLS of ours on either leg, so no version and no kTLS.
    EXPECT_EQ(conn["client_tls"]["version"], "");
    EXPECT_EQ(conn["client_tls"]["ktls_tx"], false);
    EXPECT_EQ(conn["backend_tls"]["version"], "");

    const ProcessResult human = run_ctl(d.socket, {"conns"});
    EXPECT_EQ(human.exit_code, 0);
    EXPECT_NE(human.out.find("    backend " + server + " age_ms "), std::string::npos) << human.out;
    EXPECT_NE(human.out.find("client: plain backend: plain"), std::string::npos) << human.out;
    fd.reset();  // closed before the stop, which drains open connections
    EXPECT_EQ(d.daemon->stop(), 0);
}

// The first backend of the first route: its health per `sni-ctl routes --json`, and its
// sni_backend_up (-1 when not listed).
std::pair<std::string, double> health_of(const RealWorkerDaemon &d, const std::string &server) {
    int code = -1;
    const auto j = ctl_json(d.socket, {"routes"}, &code);
    std::string health = "?";
    if (code == 0 && j.contains("routes") && !j["routes"].empty())
        health = j["routes"][0]["backends"][0].value("health", "?");
    const auto m = parse_metrics(http_get(d.metrics_port, "/metrics").body);
    const auto it = m.find("sni_backend_up{route=\"hc\",server=\"" + server + "\"}");
    return {health, it == m.end() ? -1 : it->second};
}

TEST(WorkerMetrics, BackendHealthDownThenUpInRoutesAndMetrics) {
    const auto port = free_ports(1)[0];  // nothing listens there yet
    const std::string server = "127.0.0.1:" + std::to_string(port);
    RealWorkerDaemon d(
        "  - name: hc\n    listener: main\n    server_names: [hc.test]\n"
        "    mode: passthrough\n    backend:\n      servers: [\"" +
        server +
        "\"]\n      health_check: {type: tcp, interval: 200ms, timeout: 100ms, "
        "rise: 1, fall: 1}\n");
    ASSERT_TRUE(d.daemon->wait_ready()) << d.daemon->log();
    ASSERT_TRUE(wait_http_status(d.metrics_port, "/readyz", 200, 10s)) << d.daemon->log();

    auto wait_for = [&](const std::string &health, double up) {
        std::pair<std::string, double> got;
        for (int i = 0; i < 100; ++i) {
            got = health_of(d, server);
            if (got.first == health && got.second == up) break;
            std::this_thread::sleep_for(50ms);
        }
        return got;
    };
    auto got = wait_for("down", 0);
    EXPECT_EQ(got.first, "down") << d.daemon->log();
    EXPECT_EQ(got.second, 0);
    int code = -1;
    const auto routes = ctl_json(d.socket, {"routes"}, &code);
    const auto &b = routes["routes"][0]["backends"][0];
    EXPECT_EQ(b["workers_down"], 1) << routes;
    EXPECT_EQ(b["workers_reporting"], 1) << routes;
    EXPECT_NE(b.value("reason", "").find("refused"), std::string::npos) << routes;
    const ProcessResult human = run_ctl(d.socket, {"routes"});
    EXPECT_NE(human.out.find("health down (down in 1/1 workers)"), std::string::npos) << human.out;

    // The server comes back: a listener on its port.
    UniqueFd listen(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons(port);
    const int one = 1;
    ::setsockopt(listen.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ASSERT_EQ(::bind(listen.get(), reinterpret_cast<sockaddr *>(&sin), sizeof sin), 0);
    ASSERT_EQ(::listen(listen.get(), 64), 0);
    got = wait_for("up", 1);
    EXPECT_EQ(got.first, "up") << d.daemon->log();
    EXPECT_EQ(got.second, 1);
    const auto m = parse_metrics(http_get(d.metrics_port, "/metrics").body);
    const std::string checks = "sni_backend_health_checks_total{route=\"hc\",server=\"" + server;
    EXPECT_GE(m.at(checks + "\",result=\"failed\"}"), 1);
    EXPECT_GE(m.at(checks + "\",result=\"passed\"}"), 1);
    EXPECT_EQ(d.daemon->stop(), 0);
}

// A worker that stops with many connections open sends their "closed" reports in several
// datagrams just before its channel closes: the daemon must count every one, not only what it
// reads in the wake-up that also reports the hang-up.
TEST(WorkerMetrics, ReportsSentAsTheWorkerExitsAreAllCounted) {
    // A backend that completes TCP handshakes (backlog) and never reads: each passthrough
    // connection opens (its relay starts) and stays open.
    UniqueFd sink(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    ASSERT_EQ(::bind(sink.get(), reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(sink.get(), 1024), 0);
    ASSERT_EQ(::getsockname(sink.get(), reinterpret_cast<sockaddr *>(&a), &len), 0);
    RealWorkerDaemon d(
        "  - name: sink\n    listener: main\n    server_names: [sink.test]\n"
        "    mode: passthrough\n    backend: {servers: [\"127.0.0.1:" +
        std::to_string(ntohs(a.sin_port)) + "\"]}\n");
    ASSERT_TRUE(d.daemon->wait_ready()) << d.daemon->log();
    ASSERT_TRUE(wait_http_status(d.metrics_port, "/readyz", 200, 10s)) << d.daemon->log();
    const auto before = parse_metrics(http_get(d.metrics_port, "/metrics").body);

    constexpr int kConns = 100;  // closed reports: 4 datagrams of at most 32
    std::vector<UniqueFd> clients;
    for (int i = 0; i < kConns; ++i) {
        clients.push_back(connect_tcp("127.0.0.1", d.main_port));
        ASSERT_TRUE(clients.back().valid());
        ASSERT_TRUE(send_all(clients.back().get(), build_client_hello({.sni = "sink.test"})));
    }
    const std::string opened = "sni_worker_connections_opened_total{route=\"sink\"}";
    std::map<std::string, double> now;
    for (int i = 0; i < 200 && metric_delta(before, now, opened) < kConns; ++i) {
        std::this_thread::sleep_for(50ms);
        now = parse_metrics(http_get(d.metrics_port, "/metrics").body);
    }
    ASSERT_EQ(metric_delta(before, now, opened), kConns) << d.daemon->log();

    int code = -1;
    const auto j = ctl_json(d.socket, {"conns"}, &code);
    ASSERT_EQ(code, 0) << j;
    int pid = 0;
    for (const auto &c : j["connections"])
        if (c.contains("worker")) pid = c["worker"]["pid"].get<int>();
    ASSERT_GT(pid, 0) << j;
    // The daemon is held still (SIGSTOP) while the worker stops: one SIGTERM, and after its 2 s
    // grace the worker closes all its connections at once, sends the reports and exits. Only
    // then does the daemon run again, to find every datagram queued with the hang-up.
    ASSERT_EQ(::kill(d.daemon->pid(), SIGSTOP), 0);
    ASSERT_EQ(::kill(pid, SIGTERM), 0);
    const auto state_of = [](int p) {
        std::ifstream f("/proc/" + std::to_string(p) + "/stat");
        std::string s;
        std::getline(f, s);
        const auto paren = s.rfind(')');
        return paren == std::string::npos || paren + 2 >= s.size() ? 'X' : s[paren + 2];
    };
    for (int i = 0; i < 200 && state_of(pid) != 'Z'; ++i) std::this_thread::sleep_for(50ms);
    EXPECT_EQ(state_of(pid), 'Z') << "the worker did not exit while the daemon was stopped";
    ASSERT_EQ(::kill(d.daemon->pid(), SIGCONT), 0);
    const std::string closed =
        "sni_worker_connections_closed_total{route=\"sink\",reason=\"worker_shutdown\"}";
    for (int i = 0; i < 200 && metric_delta(before, now, closed) < kConns; ++i) {
        std::this_thread::sleep_for(50ms);
        now = parse_metrics(http_get(d.metrics_port, "/metrics").body);
    }
    EXPECT_EQ(metric_delta(before, now, closed), kConns) << d.daemon->log();
    EXPECT_EQ(now.at("sni_reports_total{result=\"dropped\"}"), 0);
    EXPECT_EQ(d.daemon->stop(), 0);
}

}  // namespace
}  // namespace sni::itest
