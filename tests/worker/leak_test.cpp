// Nothing stays behind: after hundreds of connections of every kind, the good ones and the ones
// that go wrong at each step (a backend that refuses, a backend whose certificate fails, a client
// that resets during the handshake or in the middle of the relay, a client that sends garbage
// after its ClientHello), the worker holds exactly the file descriptors it held before, its
// memory does not grow with the number of connections, and each connection has its access-log
// line.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>
#include <sys/socket.h>

#include <chrono>
#include <future>
#include <thread>

#include "tests/support/process_probe.hpp"
#include "tests/worker/fixture.hpp"

namespace sni::wtest {
namespace {

using testsupport::open_fd_count;
using testsupport::quiet_fd_count;
using testsupport::reset_on_close;
using testsupport::rss_kib;
using testsupport::small_asan_quarantine_for_children;
using testsupport::wait_fd_count;

// The first flight of a TLS 1.2-1.3 client for `sni`, made by OpenSSL into memory.
std::vector<std::uint8_t> client_hello_for(const std::string &sni) {
    CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SslObj ssl(SSL_new(ctx.get()));
    BIO *rbio = BIO_new(BIO_s_mem());
    BIO *wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), rbio, wbio);  // ssl owns both
    SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
    SSL_connect(ssl.get());  // wants to read: the ClientHello is in wbio
    char *data = nullptr;
    const long len = BIO_get_mem_data(wbio, &data);
    return std::vector<std::uint8_t>(data, data + len);
}

class LeakTest : public WorkerTest {
  protected:
    enum Route : std::uint32_t { kReencrypt, kTerminate, kPassthrough, kBadCert, kDead };

    void SetUp() override {
        small_asan_quarantine_for_children();  // before the worker starts
        tls_backend_ = std::make_unique<BackendServer>(
            make_backend_ctx(backend_.cert, backend_.key, TLS1_2_VERSION, TLS1_3_VERSION),
            behaving(Behavior::kEcho));
        plain_backend_ = std::make_unique<BackendServer>(nullptr, behaving(Behavior::kEcho));
        pass_backend_server_ = std::make_unique<BackendServer>(
            make_backend_ctx(pass_backend_.cert, pass_backend_.key, TLS1_2_VERSION, TLS1_3_VERSION),
            behaving(Behavior::kEcho));
        rogue_backend_server_ = std::make_unique<BackendServer>(
            make_backend_ctx(rogue_backend_.cert, rogue_backend_.key, TLS1_2_VERSION,
                             TLS1_3_VERSION),
            behaving(Behavior::kEcho));

        const auto tls = backend_tls();
        start({spec("r", "reencrypt", tls_backend_->address(), tls),
               spec("t", "terminate", plain_backend_->address(), {}),
               spec("p", "passthrough", pass_backend_server_->address(), {}),
               spec("bad", "reencrypt", rogue_backend_server_->address(), tls),
               spec("dead", "reencrypt", "127.0.0.1:" + std::to_string(refused_.port()), tls)});
    }

    static RouteSpec spec(std::string name, std::string mode, std::string server,
                          std::vector<std::string> backend_extra) {
        RouteSpec r;
        r.name = std::move(name);
        r.mode = std::move(mode);
        r.servers = {std::move(server)};
        r.backend_extra = std::move(backend_extra);
        return r;
    }

    // A TLS client on `route` that sends 16 KiB and reads them back.
    void echo(Route route, const std::string &name) {
        ClientResult c = connect(route, sni(name));
        ASSERT_TRUE(c.stream) << name << ": " << c.error;
        const auto payload = make_payload(16 * 1024, ++seed_);
        const auto want = sha256_hex(payload.data(), payload.size());
        const auto got = c.stream->echo_duplex(payload, 10s);
        ASSERT_TRUE(got) << name << ": " << c.stream->last_error;
        EXPECT_EQ(*got, want) << name;
        c.stream->half_close();
        c.stream->read_to_eof();
    }

    // A client whose backend fails (refused, or a certificate we do not trust): whatever the
    // handshake does, the worker must close the connection.
    void failing_backend(Route route, const std::string &name) {
        ClientResult c = connect(route, sni(name));
        if (!c.stream) return;  // the worker closed during the handshake
        c.stream->write_all("x");
        const auto rest = c.stream->read_to_eof();
        EXPECT_TRUE(!rest || rest->empty()) << name << " got bytes from a failed backend";
    }

    // A raw client that sends a ClientHello, gets the worker's first bytes, then either resets
    // or sends garbage and waits for the worker to close.
    void raw_hello(bool garbage_then_wait) {
        auto client = std::async(std::launch::async, [&] {
            UniqueFd fd = tcp_connect(frontend_.port());
            if (!fd) return std::string("connect failed");
            if (::send(fd.get(), hello_.data(), hello_.size(), MSG_NOSIGNAL) !=
                static_cast<ssize_t>(hello_.size()))
                return std::string("send failed");
            char buf[4096];
            if (::recv(fd.get(), buf, sizeof buf, 0) <= 0)
                return std::string("no ServerHello from the worker");
            if (!garbage_then_wait) {
                reset_on_close(fd.get());
                return std::string();  // fd closes here
            }
            const std::string junk(200, 'G');
            ::send(fd.get(), junk.data(), junk.size(), MSG_NOSIGNAL);
            while (::recv(fd.get(), buf, sizeof buf, 0) > 0) {
            }  // until the worker closes (15 s I/O timeout)
            return std::string();
        });
        EXPECT_EQ(frontend_.accept_and_handoff(worker_->channel(), kReencrypt), "");
        EXPECT_EQ(client.get(), "");
    }

    // A TLS client that resets in the middle of the relay, with data in flight both ways.
    void reset_mid_relay(Route route, const std::string &name) {
        ClientResult c = connect(route, sni(name));
        ASSERT_TRUE(c.stream) << name << ": " << c.error;
        const auto payload = make_payload(64 * 1024, ++seed_);
        ASSERT_TRUE(c.stream->write_all(payload.data(), payload.size())) << name;
        ASSERT_TRUE(c.stream->read_some()) << name << ": " << c.stream->last_error;
        reset_on_close(c.stream->fd());
        c.stream.reset();  // closes the socket: a reset, with unread bytes left
    }

    // One of each kind; returns how many connections it made.
    std::size_t round() {
        echo(kReencrypt, "r.test");
        echo(kTerminate, "t.test");
        echo(kPassthrough, "p.test");
        failing_backend(kBadCert, "bad.test");
        failing_backend(kDead, "dead.test");
        raw_hello(false);
        raw_hello(true);
        reset_mid_relay(kReencrypt, "r.test");
        reset_mid_relay(kPassthrough, "p.test");
        return 9;
    }

    const std::vector<std::uint8_t> hello_ = client_hello_for("r.test");  // raw_hello's
    RefusedPort refused_;
    std::unique_ptr<BackendServer> tls_backend_, plain_backend_, pass_backend_server_,
        rogue_backend_server_;
    std::uint64_t seed_ = 0;
};

#if defined(__SANITIZE_ADDRESS__)
constexpr long kRssSlackKiB = 8 * 1024;
#else
constexpr long kRssSlackKiB = 1024;
#endif

TEST_F(LeakTest, EveryKindOfConnectionLeavesNoDescriptorOrMemoryBehind) {
    // Warm-up: caches (sessions, verified chains), the allocator's arenas and OpenSSL's lazy
    // state reach their steady size.
    std::size_t conns = 0;
    for (int i = 0; i < 10 && !HasFailure(); ++i) conns += round();
    ASSERT_FALSE(HasFailure());
    ASSERT_TRUE(wait_access_lines(conns)) << access_lines().size() << " of " << conns;
    const long fds0 = quiet_fd_count(worker_->pid());
    const long rss0 = rss_kib(worker_->pid());
    ASSERT_GT(fds0, 0);

    constexpr int kRounds = 150;
    for (int i = 0; i < kRounds && !HasFailure(); ++i) conns += round();
    ASSERT_FALSE(HasFailure());

    // Every connection ended and was logged, and the worker is back to its descriptors.
    EXPECT_TRUE(wait_access_lines(conns)) << access_lines().size() << " of " << conns;
    EXPECT_EQ(wait_fd_count(worker_->pid(), fds0), fds0) << "after " << conns << " connections";
    const long rss1 = rss_kib(worker_->pid());
    EXPECT_LT(rss1 - rss0, kRssSlackKiB) << "worker RSS grew from " << rss0 << " to " << rss1
                                         << " KiB over " << kRounds * 9 << " connections";
    std::cerr << "[leak] " << kRounds * 9 << " connections: fds " << fds0 << " -> "
              << open_fd_count(worker_->pid()) << ", RSS " << rss0 << " -> " << rss1 << " KiB\n";
}

}  // namespace
}  // namespace sni::wtest
