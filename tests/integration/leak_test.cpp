// Nothing stays behind in the daemon: after hundreds of connections of every kind the daemon sees
// (handed off to a terminate or a passthrough worker, a malformed ClientHello, a name no route
// serves, a client that closes or resets before its ClientHello is complete, one that resets
// right after it), the daemon and its worker hold exactly the file descriptors they held before,
// the daemon's memory does not grow with the number of connections, and its tables of the
// connections it and its workers hold (the sni_connections_classifying and
// sni_connections_in_workers gauges, `sni-ctl conns`) are empty again. Once per classifier.
#include <gtest/gtest.h>
#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <thread>

#include "ctl_support.hpp"
#include "harness.hpp"
#include "hello_builder.hpp"
#include "metrics_scrape.hpp"
#include "net_client.hpp"
#include "real_worker.hpp"
#include "tests/support/process_probe.hpp"

namespace sni::itest {
namespace {

using namespace std::chrono_literals;
using testsupport::open_fd_count;
using testsupport::quiet_fd_count;
using testsupport::reset_on_close;
using testsupport::rss_kib;
using testsupport::small_asan_quarantine_for_children;
using testsupport::wait_fd_count;

#if defined(__SANITIZE_ADDRESS__)
constexpr long kRssSlackKiB = 8 * 1024;
#else
constexpr long kRssSlackKiB = 1024;
#endif

class DaemonLeakTest : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        small_asan_quarantine_for_children();  // before the daemon starts its worker
        make_certificate(certs_.path(), "t", {"t.test"});
        const std::string crt = (certs_.path() / "t.crt").string();
        const std::string key = (certs_.path() / "t.key").string();
        const std::string echo = "127.0.0.1:" + std::to_string(backend_.port());
        d_ = std::make_unique<RealWorkerDaemon>(
            "  - name: t\n    listener: main\n    server_names: [t.test]\n    mode: terminate\n"
            "    tls: {certificates: [{cert: \"" +
                crt + "\", key: \"" + key + "\"}]}\n    backend: {servers: [\"" + echo +
                "\"]}\n"
                "  - name: p\n    listener: main\n    server_names: [p.test]\n"
                "    mode: passthrough\n    backend: {servers: [\"" +
                echo +
                "\"]}\n"
                "  - name: q\n    listener: main\n    server_names: [q.test]\n"
                "    mode: passthrough\n    backend: {servers: [\"127.0.0.1:" +
                std::to_string(backlog_port_) + "\"]}\n",
            GetParam());
        ASSERT_TRUE(d_->daemon->wait_ready()) << d_->daemon->log();
    }

    // One connection of each kind; returns how many.
    int round() {
        const std::uint16_t port = d_->main_port;
        EXPECT_EQ(tls_echo(port, "t.test", random_payload(8 * 1024, ++seed_)), "");

        const Bytes hello = build_client_hello({.sni = "p.test"});
        Bytes out = hello;
        const Bytes payload = random_payload(4 * 1024, ++seed_);
        out.insert(out.end(), payload.begin(), payload.end());
        {
            UniqueFd fd = connect_tcp("127.0.0.1", port);
            EXPECT_TRUE(send_all(fd.get(), out));
            EXPECT_EQ(read_exactly(fd.get(), out.size(), 5s).data, out) << "passthrough echo";
        }
        // The daemon closes these itself.
        const std::string http = "GET / HTTP/1.1\r\nHost: t.test\r\n\r\n";
        closed_by_daemon(Bytes(http.begin(), http.end()), "a request that is not TLS");
        closed_by_daemon(build_client_hello({.sni = "nowhere.test"}), "a name no route serves");
        {
            UniqueFd fd = connect_tcp("127.0.0.1", port);  // says nothing, then leaves
        }
        const Bytes half(hello.begin(), hello.begin() + static_cast<long>(hello.size() / 2));
        {
            UniqueFd fd = connect_tcp("127.0.0.1", port);  // half a ClientHello, then FIN
            EXPECT_TRUE(send_all(fd.get(), half));
        }
        {
            UniqueFd fd = connect_tcp("127.0.0.1", port);  // half a ClientHello, then reset
            EXPECT_TRUE(send_all(fd.get(), half));
            reset_on_close(fd.get());
        }
        {
            UniqueFd fd = connect_tcp("127.0.0.1", port);  // a whole one, then reset at once
            EXPECT_TRUE(send_all(fd.get(), build_client_hello({.sni = "t.test"})));
            reset_on_close(fd.get());
        }
        return 8;
    }

    void closed_by_daemon(const Bytes &bytes, const std::string &what) {
        UniqueFd fd = connect_tcp("127.0.0.1", d_->main_port);
        EXPECT_TRUE(send_all(fd.get(), bytes)) << what;
        EXPECT_TRUE(read_until_close(fd.get(), 5s).closed) << what;
    }

    // The daemon's gauges of the connections it holds and of those its workers hold.
    std::map<std::string, double> gauges() const {
        return parse_metrics(http_get(d_->metrics_port, "/metrics").body);
    }
    // Waits until both are 0 (they lag the closes by the workers' report batching).
    bool settle_gauges() const {
        for (int i = 0; i < 300; ++i) {
            const auto m = gauges();
            if (m.count("sni_connections_classifying") &&
                m.at("sni_connections_classifying") == 0 && m.count("sni_connections_in_workers") &&
                m.at("sni_connections_in_workers") == 0)
                return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }
    // `sni-ctl conns` entries the daemon or a worker still holds (not the kernel's TIME_WAITs).
    nlohmann::json held_conns() const {
        int code = -1;
        const auto j = ctl_json(d_->socket, {"conns"}, &code);
        EXPECT_EQ(code, 0) << j;
        auto held = nlohmann::json::array();
        for (const auto &c : j["connections"])
            if (c.value("phase", "") != "unknown") held.push_back(c);
        return held;
    }

    // Connections that stay open: passthrough route q, whose backend is a listener that never
    // accepts (its backlog completes them), so each stays with the worker until the client goes.
    std::vector<UniqueFd> hold(int n) {
        std::vector<UniqueFd> out;
        const Bytes hello = build_client_hello({.sni = "q.test"});
        for (int i = 0; i < n; ++i) {
            out.push_back(connect_tcp("127.0.0.1", d_->main_port));
            EXPECT_TRUE(send_all(out.back().get(), hello));
        }
        return out;
    }
    // Resets all but the first `keep` of `held` (a FIN would leave them half open: the backend
    // never closes its side).
    static void reset_all_but(std::vector<UniqueFd> &held, std::size_t keep) {
        for (std::size_t i = keep; i < held.size(); ++i) reset_on_close(held[i].get());
        held.resize(keep);
    }
    // Waits until sni_connections_in_workers is `want`; returns the last value seen.
    double wait_in_workers(double want) const {
        double v = -1;
        for (int i = 0; i < 200 && v != want; ++i) {
            if (i) std::this_thread::sleep_for(50ms);
            const auto m = gauges();
            v = m.count("sni_connections_in_workers") ? m.at("sni_connections_in_workers") : -1;
        }
        return v;
    }

    TempDir certs_;
    EchoBackend backend_;
    std::uint16_t backlog_port_ = 0;
    UniqueFd backlog_ = loopback_listener(backlog_port_, 128);  // never accepts
    std::unique_ptr<RealWorkerDaemon> d_;
    std::uint32_t seed_ = 0;
};

TEST_P(DaemonLeakTest, EveryKindOfConnectionLeavesNothingBehind) {
    // Warm-up: the daemon's tables and the allocator's arenas reach their steady size, and the
    // first metrics scrape and `conns` (sock_diag through libnl) have made what they keep.
    int conns = 0;
    for (int i = 0; i < 20 && !HasFailure(); ++i) conns += round();
    ASSERT_FALSE(HasFailure()) << d_->daemon->log();
    const auto workers = d_->daemon->children();
    ASSERT_EQ(workers.size(), 1u);
    const pid_t daemon = d_->daemon->pid(), worker = workers[0];
    ASSERT_TRUE(settle_gauges()) << "sni_connections_in_workers "
                                 << gauges()["sni_connections_in_workers"];
    EXPECT_EQ(held_conns(), nlohmann::json::array());
    const long daemon_fds0 = quiet_fd_count(daemon), worker_fds0 = quiet_fd_count(worker);
    const long rss0 = rss_kib(daemon);

    constexpr int kRounds = 150;
    for (int i = 0; i < kRounds && !HasFailure(); ++i) conns += round();
    ASSERT_FALSE(HasFailure()) << d_->daemon->log();

    // Every connection ended, and the daemon's tables know it.
    EXPECT_TRUE(settle_gauges()) << "sni_connections_in_workers "
                                 << gauges()["sni_connections_in_workers"] << ", classifying "
                                 << gauges()["sni_connections_classifying"];
    EXPECT_EQ(wait_fd_count(daemon, daemon_fds0), daemon_fds0) << "daemon, after " << conns;
    EXPECT_EQ(wait_fd_count(worker, worker_fds0), worker_fds0) << "worker, after " << conns;
    const long rss1 = rss_kib(daemon);
    EXPECT_LT(rss1 - rss0, kRssSlackKiB) << "daemon RSS grew from " << rss0 << " to " << rss1
                                         << " KiB over " << kRounds * 8 << " connections";
    EXPECT_EQ(held_conns(), nlohmann::json::array());
    std::cerr << "[leak] " << kRounds * 8 << " connections: daemon fds " << daemon_fds0 << " -> "
              << open_fd_count(daemon) << ", worker fds " << worker_fds0 << " -> "
              << open_fd_count(worker) << ", daemon RSS " << rss0 << " -> " << rss1 << " KiB\n";
    EXPECT_EQ(d_->daemon->stop(), 0);
}

// The gauge and `conns` follow connections through a reload (the old generation keeps its own
// until they close) and through the death of a worker (its connections go with it).
TEST_P(DaemonLeakTest, InWorkersFollowsReloadAndWorkerDeath) {
    auto first = hold(12);
    ASSERT_EQ(wait_in_workers(12), 12) << d_->daemon->log();
    const auto before = d_->daemon->children();
    ASSERT_EQ(before.size(), 1u);
    const pid_t old_worker = before[0];

    ASSERT_EQ(run_ctl(d_->socket, {"reload"}).exit_code, 0) << d_->daemon->log();
    EXPECT_EQ(wait_in_workers(12), 12);  // the retired generation's, still open
    int gen1 = 0;
    for (const auto &c : held_conns()) gen1 += c.value("generation", 0) == 1;
    EXPECT_EQ(gen1, 12);

    reset_all_but(first, 6);  // six clients leave: their worker reports the closes
    EXPECT_EQ(wait_in_workers(6), 6);
    auto second = hold(4);  // to the new generation's worker
    EXPECT_EQ(wait_in_workers(10), 10);
    int gen2 = 0;
    for (const auto &c : held_conns()) gen2 += c.value("generation", 0) == 2;
    EXPECT_EQ(gen2, 4);

    // The new generation's worker dies: its four go with it, and it is restarted.
    pid_t new_worker = -1;
    for (const pid_t p : d_->daemon->children())
        if (p != old_worker) new_worker = p;
    ASSERT_GT(new_worker, 0);
    ASSERT_EQ(::kill(new_worker, SIGKILL), 0);
    EXPECT_EQ(wait_in_workers(6), 6) << d_->daemon->log();
    // Then the retired one: its six go with it (and its generation with its last worker).
    ASSERT_EQ(::kill(old_worker, SIGKILL), 0);
    EXPECT_EQ(wait_in_workers(0), 0) << d_->daemon->log();

    // The restarted worker takes new ones once it is ready (before, they are closed: no worker).
    const std::string ready = "sni_workers{pool=\"default\",state=\"ready\"}";
    for (int i = 0; i < 200 && gauges()[ready] != 1; ++i) std::this_thread::sleep_for(50ms);
    auto third = hold(3);
    EXPECT_EQ(wait_in_workers(3), 3) << d_->daemon->log();
    reset_all_but(third, 0);
    EXPECT_EQ(wait_in_workers(0), 0);
    EXPECT_EQ(d_->daemon->stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Classifiers, DaemonLeakTest,
                         ::testing::Values(std::string("userspace"), std::string("bpf")),
                         [](const auto &info) { return info.param; });

}  // namespace
}  // namespace sni::itest
