#include "splitter_fixture.hpp"

#include <sys/resource.h>

#include <iostream>
#include <sstream>
#include <thread>

namespace sni::itest {

namespace {
std::unique_ptr<TempDir> g_certs;  // test-only: certificates shared by the tests of a process
}

std::string classifier_name(const ::testing::TestParamInfo<std::string> &info) {
    return info.param;
}

void SplitterTest::SetUpTestSuite() {
    if (g_certs) return;
    g_certs = std::make_unique<TempDir>();
    make_certificate(g_certs->path(), "a", {"a.test"});
    make_certificate(g_certs->path(), "b", {"*.b.test"});
    // Many connections at once: the test process needs fds too.
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        ::setrlimit(RLIMIT_NOFILE, &rl);
    }
}

void SplitterTest::TearDownTestSuite() {}

std::string SplitterTest::control_socket() const {
    return (dir_->path() / "ctl.sock").string();
}

const std::filesystem::path &SplitterTest::certs() {
    return g_certs->path();
}

std::string SplitterTest::config_text() const {
    const std::string c = certs().string();
    const std::string p = std::to_string(main_port_);
    const std::string s = std::to_string(strict_port_);
    std::ostringstream y;
    y << "control: {socket: \"" << control_socket() << "\"}\n"
      << "listeners:\n"
         "  - name: main\n"
         "    bind: [\"127.0.0.1:"
      << p << "\", \"[::1]:" << p << "\""
      << (extra_main_address().empty() ? "" : ", \"" + extra_main_address() + ":" + p + "\"")
      << "]\n"
         "    default_route: pt-default\n"
         "    unknown_sni: default\n"
         "    client_hello_timeout: 1s\n"
         "  - name: strict\n"
         "    bind: [\"127.0.0.1:"
      << s
      << "\"]\n"
         "    require_sni: true\n"
         "    unknown_sni: reject\n"
         "    client_hello_timeout: 1s\n"
         "routes:\n";
    auto tls_route = [&](const std::string &name, const std::string &names,
                         const std::string &cert) {
        y << "  - name: " << name << "\n"
          << "    listener: main\n"
          << "    server_names: " << names << "\n"
          << "    mode: terminate\n"
          << "    pool: tls\n"
          << "    tls:\n"
          << "      certificates: [{cert: \"" << c << "/" << cert << ".crt\", key: \"" << c << "/"
          << cert << ".key\"}]\n"
          << "    backend: {servers: [\"127.0.0.1:9\"]}\n";
    };
    auto pt_route = [&](const std::string &name, const std::string &listener,
                        const std::string &names) {
        y << "  - name: " << name << "\n"
          << "    listener: " << listener << "\n";
        if (!names.empty()) y << "    server_names: " << names << "\n";
        y << "    mode: passthrough\n"
          << "    backend: {servers: [\"127.0.0.1:9\"]}\n";
    };
    y << extra_routes_;
    tls_route("tls-a", "[a.test]", "a");
    tls_route("tls-b", "[\"*.b.test\"]", "b");
    pt_route("pt-1", "main", "[p1.test]");
    pt_route("pt-2", "main", "[p2.test]");
    pt_route("pt-3", "main", "[p3.test]");
    pt_route("pt-capture", "main", "[tls13.example.test, pq.example.test]");
    pt_route("pt-default", "main", "");
    pt_route("strict-pt", "strict", "[p1.test]");
    y << "pools:\n"
         "  - name: default\n"
         "    workers: 2\n"
         "  - name: tls\n"
         "    workers: 1\n";
    if (with_metrics()) y << "metrics: {listen: \"127.0.0.1:" << metrics_port_ << "\"}\n";
    return y.str();
}

void SplitterTest::SetUp() {
    dir_ = std::make_unique<TempDir>();
    const auto ports = free_ports(3);
    main_port_ = ports[0];
    strict_port_ = ports[1];
    metrics_port_ = ports[2];
    const auto config_path = dir_->path() / "splitter.yaml";
    write_file(config_path, config_text());
    DaemonProcess::Options o;
    o.config_path = config_path.string();
    o.classifier = classifier();
    o.log_path = dir_->path() / "daemon.log";
    o.fd_limit = daemon_fd_limit();
    o.extra_args = {"--log-level", "debug", "--drain-timeout", drain_timeout()};
    for (auto &a : extra_daemon_args()) o.extra_args.push_back(std::move(a));
    daemon_ = std::make_unique<DaemonProcess>(o);
    ASSERT_TRUE(daemon_->wait_ready()) << "sni-splitterd did not get ready:\n" << daemon_->log();
    // The workers are started; give them a moment to reach their event loop (handoffs queue in
    // the channel meanwhile anyway).
    ASSERT_EQ(count_of(daemon_->log(), "msg=\"classifier selected\" classifier=" + classifier()),
              1u)
        << daemon_->log();
}

void SplitterTest::TearDown() {
    if (!daemon_) return;
    const int code = daemon_->stop();
    if (expect_clean_exit_) {
        EXPECT_EQ(code, 0) << "sni-splitterd did not exit cleanly on SIGTERM";
        EXPECT_NE(daemon_->log().find("msg=\"stopped\""), std::string::npos);
    }
    if (HasFailure()) {
        const std::string log = daemon_->log();
        const std::size_t keep = 12000;
        std::cerr << "---- daemon log (tail) ----\n"
                  << (log.size() > keep ? log.substr(log.size() - keep) : log) << "----\n";
    }
    daemon_.reset();
}

void SplitterTest::expect_echo(const std::string &host, std::uint16_t port,
                               const std::vector<Bytes> &chunks, std::chrono::milliseconds pause,
                               const Bytes &payload) {
    UniqueFd fd = connect_client(host, port);
    ASSERT_TRUE(fd.valid()) << "connect " << host << ":" << port;
    Bytes expected;
    for (std::size_t i = 0; i < chunks.size(); ++i) {
        if (i > 0 && pause.count() > 0) std::this_thread::sleep_for(pause);
        ASSERT_TRUE(send_all(fd.get(), chunks[i]));
        expected.insert(expected.end(), chunks[i].begin(), chunks[i].end());
    }
    ASSERT_TRUE(send_all(fd.get(), payload));
    expected.insert(expected.end(), payload.begin(), payload.end());
    const auto r = read_exactly(fd.get(), expected.size(), 10s);
    ASSERT_EQ(r.data.size(), expected.size())
        << "closed=" << r.closed << " timed_out=" << r.timed_out;
    EXPECT_TRUE(r.data == expected) << "the echoed bytes differ";

    // The worker owns the socket now: bytes sent after the handoff must arrive whole too
    // (the kernel's receive sequence accounting survives the socket leaving the sockmap).
    Bytes later(1500);
    for (std::size_t i = 0; i < later.size(); ++i) later[i] = static_cast<std::uint8_t>(i * 7 + 3);
    ASSERT_TRUE(send_all(fd.get(), later));
    const auto r2 = read_exactly(fd.get(), later.size(), 10s);
    ASSERT_EQ(r2.data.size(), later.size())
        << "after handoff: closed=" << r2.closed << " timed_out=" << r2.timed_out;
    EXPECT_TRUE(r2.data == later) << "bytes sent after the handoff differ";
}

void SplitterTest::expect_reply_then_close(std::uint16_t port, const Bytes &hello,
                                           const Bytes &expected) {
    UniqueFd fd = connect_tcp("127.0.0.1", port);
    ASSERT_TRUE(fd.valid());
    send_all(fd.get(), hello);  // may fail half-way: the daemon can close early (too big...)
    const auto r = read_until_close(fd.get(), 5s);
    EXPECT_TRUE(r.closed) << "the connection was not closed";
    EXPECT_EQ(hex(r.data), hex(expected));
}

}  // namespace sni::itest
