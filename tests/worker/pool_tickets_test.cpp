// The daemon's side of shared session tickets: sni-splitterd with a pool of two real
// sni-worker processes sends both the pool's keys, so a ticket issued through one worker
// resumes through the other (connections go to the pool's workers in turn).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <sstream>

#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

struct SessionFree {
    void operator()(SSL_SESSION *s) const { SSL_SESSION_free(s); }
};
using SessionPtr = std::unique_ptr<SSL_SESSION, SessionFree>;

std::uint16_t free_port() {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
        ::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&a), &len) != 0)
        return 0;
    return ntohs(a.sin_port);
}

using PoolTicketsTest = WorkerTest;

TEST_F(PoolTicketsTest, DaemonSharesTicketKeysAcrossItsWorkers) {
    BackendServer backend(nullptr, {});
    const std::uint16_t port = free_port();
    ASSERT_NE(port, 0);
    std::ostringstream y;
    y << "listeners:\n  - {name: public, bind: [\"127.0.0.1:" << port << "\"]}\n"
      << "routes:\n  - name: r\n    listener: public\n    server_names: [\"r.test\"]\n"
      << "    mode: terminate\n    tls:\n      certificates: [{cert: \"" << route_ec_.cert.string()
      << "\", key: \"" << route_ec_.key.string() << "\"}]\n"
      << "    backend: {servers: [\"" << backend.address() << "\"]}\n"
      << "pools:\n  - {name: default, workers: 2}\n";
    write_file(config_path_, y.str());
    WorkerProcess::Options o;
    o.config = config_path_;
    o.log = log_path_;
    o.command = {SNI_SPLITTERD_BIN, "--config",     config_path_.string(),
                 "--worker-bin",    SNI_WORKER_BIN, "--classifier",
                 "userspace"};
    worker_ = std::make_unique<WorkerProcess>(o);  // the fixture stops it by PID
    ASSERT_TRUE(worker_->wait_log([](const std::string &l) {
        std::size_t n = 0;
        for (auto p = l.find("ticket keys installed"); p != std::string::npos;
             p = l.find("ticket keys installed", p + 1))
            ++n;
        return n >= 2 && l.find("msg=\"ready\"") != std::string::npos;
    })) << worker_->log();

    SessionPtr session;
    std::vector<bool> reused;
    for (int i = 0; i < 4; ++i) {
        ClientResult c = tls_connect(
            port, sni("r.test").versions(TLS1_3_VERSION, TLS1_3_VERSION).resume(session.get()));
        ASSERT_TRUE(c.stream) << c.error << "\n" << worker_->log();
        ASSERT_TRUE(c.stream->write_all("ping"));
        ASSERT_EQ(c.stream->read_exactly(4).value_or(""), "ping");
        reused.push_back(c.reused);
        if (!session) session.reset(SSL_get1_session(c.stream->ssl()));
        c.stream->half_close();  // a clean close keeps the session resumable
        c.stream->read_to_eof();
    }
    // The first is a full handshake; the other three alternate between the two workers, and
    // every one resumes the first worker's ticket.
    EXPECT_EQ(reused, (std::vector<bool>{false, true, true, true})) << worker_->log();
}

}  // namespace
}  // namespace sni::wtest
