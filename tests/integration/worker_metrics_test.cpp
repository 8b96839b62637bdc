// The workers' reports in the daemon's metrics: sni-splitterd with the real sni-worker, one
// passthrough route to an echo backend on loopback; after known traffic the report-based
// metrics move by exactly that traffic, and the access log file gets one JSON line each.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "harness.hpp"
#include "hello_builder.hpp"
#include "metrics_scrape.hpp"
#include "net_client.hpp"

namespace sni::itest {
namespace {

// Accepts connections and echoes each until the client's EOF, then closes it.
class EchoBackend {
  public:
    EchoBackend() {
        listen_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in sin{};
        sin.sin_family = AF_INET;
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(listen_.get(), reinterpret_cast<sockaddr *>(&sin), sizeof sin);
        ::listen(listen_.get(), 16);
        socklen_t len = sizeof sin;
        ::getsockname(listen_.get(), reinterpret_cast<sockaddr *>(&sin), &len);
        port_ = ntohs(sin.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~EchoBackend() {
        stop_ = true;
        thread_.join();
    }
    std::uint16_t port() const { return port_; }

  private:
    void run() {
        while (!stop_) {
            pollfd p{listen_.get(), POLLIN, 0};
            if (::poll(&p, 1, 50) <= 0) continue;
            UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
            if (!c) continue;
            char buf[4096];
            for (;;) {
                const ssize_t n = ::recv(c.get(), buf, sizeof buf, 0);
                if (n <= 0) break;
                if (::send(c.get(), buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) break;
            }
        }
    }
    UniqueFd listen_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
};

TEST(WorkerMetrics, ReportsOfARealWorkerReachTheMetrics) {
    EchoBackend backend;
    TempDir dir;
    const auto ports = free_ports(2);
    std::ostringstream y;
    y << "listeners:\n  - name: main\n    bind: [\"127.0.0.1:" << ports[0] << "\"]\n"
      << "routes:\n  - name: echo\n    listener: main\n    server_names: [echo.test]\n"
      << "    mode: passthrough\n"
      << "    backend: {servers: [\"127.0.0.1:" << backend.port() << "\"]}\n"
      << "pools:\n  - {name: default, workers: 1, user: nobody}\n"
      << "metrics: {listen: \"127.0.0.1:" << ports[1] << "\"}\n"
      << "access_log: {path: \"" << (dir.path() / "access.log").string() << "\"}\n";
    write_file(dir.path() / "c.yaml", y.str());
    DaemonProcess::Options o;
    o.config_path = (dir.path() / "c.yaml").string();
    o.classifier = "userspace";
    o.log_path = dir.path() / "daemon.log";
    o.extra_args = {"--worker-bin", SNI_WORKER_BIN};
    DaemonProcess daemon(o);
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

}  // namespace
}  // namespace sni::itest
