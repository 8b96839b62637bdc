// The worker process itself: start-up logs (kTLS probe), the access-log line, privilege drop,
// handoffs for routes of another pool, stopping.
#include <gtest/gtest.h>

#include <pwd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

using LifecycleTest = WorkerTest;

TEST_F(LifecycleTest, LogsKernelTlsProbe) {
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    start({r});
    const std::string log = worker_->log();
    const auto pos = log.find("msg=\"kernel TLS\"");
    ASSERT_NE(pos, std::string::npos) << log;
    const std::string line = log.substr(pos, log.find('\n', pos) - pos);
    const std::string state = field(" " + line, "ktls");
    EXPECT_TRUE(state == "available" || state == "no_module" || state == "unknown") << line;
}

// One line per connection with the route, SNI, both legs' TLS, kTLS per leg and direction,
// bytes both ways, duration and reason; peer bytes are escaped.
TEST_F(LifecycleTest, AccessLogLine) {
    BackendServer backend(
        make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION), {});
    RouteSpec r;
    r.name = "shop";
    r.servers = {backend.address()};
    r.backend_extra = backend_tls();
    start({r});
    ClientResult c = connect(0, sni("r.test").protocols({"h2", "x\"y"}));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("12345"));
    EXPECT_EQ(c.stream->read_exactly(5).value_or(""), "12345");
    c.stream->half_close();
    EXPECT_TRUE(c.stream->read_to_eof());
    ASSERT_TRUE(wait_access_lines(1));
    const std::string line = access_lines().at(0);
    EXPECT_EQ(field(line, "route"), "shop");
    EXPECT_EQ(field(line, "mode"), "reencrypt");
    EXPECT_EQ(field(line, "sni"), "r.test");
    EXPECT_EQ(field(line, "alpn_offered"), "h2,x\"y");
    EXPECT_NE(line.find("\"alpn_offered\":\"h2,x\\\"y\""), std::string::npos) << line;
    EXPECT_EQ(field(line, "client_version"), "TLSv1.3");
    EXPECT_EQ(field(line, "client_cipher").rfind("TLS_", 0), 0u);
    EXPECT_EQ(field(line, "backend_version"), "TLSv1.3");
    EXPECT_EQ(field(line, "backend"), backend.address());
    for (const char *k : {"ktls_client_tx", "ktls_client_rx", "ktls_backend_tx", "ktls_backend_rx"})
        EXPECT_TRUE(field(line, k) == "true" || field(line, k) == "false") << k;
    EXPECT_EQ(field(line, "bytes_up"), "5");
    EXPECT_EQ(field(line, "bytes_down"), "5");
    EXPECT_EQ(field(line, "client_end"), "close_notify");
    EXPECT_EQ(field(line, "backend_end"), "close_notify");
    EXPECT_FALSE(field(line, "duration_ms").empty());
    EXPECT_EQ(field(line, "reason"), "closed");
}

std::string proc_status_field(pid_t pid, const std::string &key) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
    return "";
}

TEST_F(LifecycleTest, DropsPrivilegesAfterLoadingKeys) {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    const passwd *nobody = ::getpwnam("nobody");
    if (nobody == nullptr) GTEST_SKIP() << "no user nobody";
    // The keys are readable by root only: they must be loaded before the drop.
    for (const auto *f : {&route_ec_.key, &route_rsa_.key})
        std::filesystem::permissions(*f, std::filesystem::perms::owner_read);
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    start({r}, {"--user", "nobody"});
    EXPECT_TRUE(worker_->wait_log_contains("privileges dropped"));
    const std::string uid = proc_status_field(worker_->pid(), "Uid");
    EXPECT_NE(uid.find(std::to_string(nobody->pw_uid)), std::string::npos) << uid;
    EXPECT_EQ(uid.find("\t0"), std::string::npos) << uid;
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("z"));
    EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "z");
}

TEST_F(LifecycleTest, RefusesRouteOfAnotherPool) {
    BackendServer backend(nullptr, {});
    RouteSpec mine, other;
    mine.mode = other.mode = "terminate";
    mine.servers = other.servers = {backend.address()};
    other.name = "other";
    other.route_extra = {"pool: edge"};
    std::string yaml = render({mine, other});
    yaml += "pools:\n  - {name: default, workers: 1}\n  - {name: edge, workers: 1}\n";
    write_file(config_path_, yaml);
    worker_ = std::make_unique<WorkerProcess>(
        WorkerProcess::Options{config_path_, log_path_, "default", {}, {}});
    ASSERT_TRUE(worker_->wait_log_contains("worker running")) << worker_->log();
    ClientResult c = connect(1, sni("other.test"));
    EXPECT_FALSE(c.stream);
    EXPECT_TRUE(worker_->wait_log_contains("does not serve"));
    EXPECT_EQ(backend.accepted(), 0u);
}

TEST_F(LifecycleTest, StopsOnSigterm) {
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    start({r});
    const int status = worker_->stop();
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
    EXPECT_NE(worker_->log().find("worker stopped"), std::string::npos);
}

// SIGTERM with a connection open: it is closed after the drain grace and logged.
TEST_F(LifecycleTest, ClosesConnectionsAfterDrainGrace) {
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    start({r});
    ClientResult c = connect(0, sni("r.test"));
    ASSERT_TRUE(c.stream) << c.error;
    ASSERT_TRUE(c.stream->write_all("q"));
    EXPECT_EQ(c.stream->read_exactly(1).value_or(""), "q");
    const int status = worker_->stop(10s);
    ASSERT_TRUE(WIFEXITED(status)) << status;
    ASSERT_EQ(access_lines().size(), 1u);
    EXPECT_EQ(field(access_lines().at(0), "reason"), "worker shutdown");
}

// The daemon's end of the channel closes: the worker finishes its connections and exits.
TEST_F(LifecycleTest, ExitsWhenChannelCloses) {
    BackendServer backend(nullptr, {});
    RouteSpec r;
    r.mode = "terminate";
    r.servers = {backend.address()};
    start({r});
    ::shutdown(worker_->channel(), SHUT_RDWR);
    EXPECT_TRUE(worker_->wait_log_contains("worker stopped"));
}

}  // namespace
}  // namespace sni::wtest
