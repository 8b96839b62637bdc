// Kernel steering without the daemon: sockops + sk_skb parser/verdict + ring buffer, over
// loopback. Needs root (loads BPF, attaches to the root cgroup v2).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "loader/kernel_steering.hpp"
#include "tests/support/process_probe.hpp"

namespace {

using sni::loader::KernelDecision;
using sni::loader::KernelSteering;
using sni::loader::SteeringRoute;
using Bytes = std::vector<uint8_t>;

struct Fd {
    int fd = -1;
    explicit Fd(int f = -1) : fd(f) {}
    Fd(Fd &&o) noexcept : fd(std::exchange(o.fd, -1)) {}
    Fd &operator=(Fd &&o) noexcept {
        std::swap(fd, o.fd);
        return *this;
    }
    ~Fd() {
        if (fd >= 0) close(fd);
    }
};

// A real ClientHello from OpenSSL's client, for any SNI.
Bytes client_hello(const std::string &sni, int version = TLS1_3_VERSION) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    SSL_CTX_set_max_proto_version(ctx.get(), version);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    BIO *rbio = BIO_new(BIO_s_mem()), *wbio = BIO_new(BIO_s_mem());
    SSL_set_bio(ssl.get(), rbio, wbio);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl.get(), sni.c_str());
    SSL_connect(ssl.get());
    char *data = nullptr;
    const long n = BIO_get_mem_data(wbio, &data);
    return Bytes(data, data + n);
}

// The same handshake message re-framed into records of at most `chunk` bytes.
Bytes reframe(const Bytes &hello, size_t chunk) {
    const Bytes body(hello.begin() + 5, hello.end());
    Bytes out;
    for (size_t i = 0; i < body.size(); i += chunk) {
        const size_t n = std::min(chunk, body.size() - i);
        out.insert(out.end(), {0x16, 0x03, 0x01, uint8_t(n >> 8), uint8_t(n)});
        out.insert(out.end(), body.begin() + i, body.begin() + i + n);
    }
    return out;
}

class Steering : public ::testing::Test {
  protected:
    static constexpr uint32_t kListener = 7;

    void SetUp() override {
        ASSERT_EQ(geteuid(), 0u) << "this test needs root: it loads and attaches BPF programs";
        const std::string cg = sni::loader::find_cgroup2_root();
        ASSERT_FALSE(cg.empty()) << "no cgroup v2 mounted";
        auto ks = KernelSteering::open(cg, 8);
        ASSERT_TRUE(ks.ok()) << ks.error();
        ks_ = std::move(ks.value());

        lsn_ = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ASSERT_EQ(bind(lsn_.fd, reinterpret_cast<sockaddr *>(&a), sizeof(a)), 0);
        ASSERT_EQ(listen(lsn_.fd, 128), 0);
        socklen_t len = sizeof(a);
        getsockname(lsn_.fd, reinterpret_cast<sockaddr *>(&a), &len);
        addr_ = a;
        sockaddr_storage ss{};
        std::memcpy(&ss, &a, sizeof(a));
        auto r = ks_->add_listener(kListener, ss, CH_DEFAULT_CAP);
        ASSERT_TRUE(r.ok()) << r.error();
        auto rr = ks_->set_routes(
            {{kListener, "a.test", 0}, {kListener, "*.w.test", 1}, {kListener + 1, "b.test", 2}});
        ASSERT_TRUE(rr.ok()) << rr.error();
    }

    Fd connect_client() {
        Fd c(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        const int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        EXPECT_EQ(connect(c.fd, reinterpret_cast<sockaddr *>(&addr_), sizeof(addr_)), 0);
        return c;
    }

    Fd accept_server(uint64_t &cookie) {
        Fd s(accept4(lsn_.fd, nullptr, nullptr, SOCK_CLOEXEC));
        socklen_t len = sizeof(cookie);
        EXPECT_EQ(getsockopt(s.fd, SOL_SOCKET, SO_COOKIE, &cookie, &len), 0);
        KernelSteering::kick(s.fd);
        return s;
    }

    std::optional<KernelDecision> wait_decision(uint64_t cookie, int ms = 2000) {
        std::optional<KernelDecision> found;
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        const std::function<void(const KernelDecision &)> sink = [&](const KernelDecision &d) {
            if (d.cookie == cookie) found = d;
        };
        while (!found && std::chrono::steady_clock::now() < deadline) {
            pollfd p{ks_->event_fd(), POLLIN, 0};
            poll(&p, 1, 50);
            ks_->consume(sink);
        }
        return found;
    }

    // Drains until the kernel lets go of the socket (what the daemon does on EPOLLIN).
    KernelSteering::DrainResult drain(int fd, uint64_t cookie, Bytes &bytes) {
        for (int i = 0; i < 200; i++) {
            auto r = ks_->drain(fd, cookie, bytes);
            if (r.status != KernelSteering::Drain::kWaiting) return r;
            pollfd p{fd, POLLIN, 0};
            poll(&p, 1, 10);
        }
        return {KernelSteering::Drain::kWaiting, "still waiting after 2 s"};
    }

    // Reads exactly n bytes (the ClientHello) while the socket is still in the map.
    static Bytes read_exactly(int fd, size_t n) {
        Bytes out(n);
        size_t got = 0;
        while (got < n) {
            pollfd p{fd, POLLIN, 0};
            if (poll(&p, 1, 2000) <= 0) break;
            const ssize_t r = recv(fd, out.data() + got, n - got, MSG_DONTWAIT);
            if (r < 0 && errno == EAGAIN) continue;
            if (r <= 0) break;
            got += static_cast<size_t>(r);
        }
        out.resize(got);
        return out;
    }

    // Full path for one connection: returns the decision; checks bytes and the released socket.
    KernelDecision run(const std::vector<Bytes> &pieces, int pause_ms = 0) {
        Fd c = connect_client();
        uint64_t cookie = 0;
        Fd s = accept_server(cookie);
        EXPECT_TRUE(ks_->owns(cookie)) << "sockops did not insert the accepted socket";
        Bytes all;
        for (const auto &p : pieces) {
            EXPECT_EQ(send(c.fd, p.data(), p.size(), 0), ssize_t(p.size()));
            all.insert(all.end(), p.begin(), p.end());
            if (pause_ms) std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
        }
        auto d = wait_decision(cookie);
        EXPECT_TRUE(d.has_value()) << "no decision on the ring buffer";
        if (!d) return {};
        // Everything the client sent so far is read while the socket is in the map.
        Bytes got;
        const auto drained = drain(s.fd, cookie, got);
        EXPECT_EQ(drained.status, KernelSteering::Drain::kDone) << drained.error;
        EXPECT_EQ(got, all);
        EXPECT_FALSE(ks_->owns(cookie));
        // After release the socket is a plain socket again, both ways.
        const std::string ping = "after-release";
        EXPECT_EQ(send(c.fd, ping.data(), ping.size(), 0), ssize_t(ping.size()));
        const Bytes back = read_exactly(s.fd, ping.size());
        EXPECT_EQ(std::string(back.begin(), back.end()), ping);
        EXPECT_EQ(send(s.fd, "pong", 4, 0), 4);
        EXPECT_EQ(read_exactly(c.fd, 4), Bytes({'p', 'o', 'n', 'g'}));
        return *d;
    }

    std::unique_ptr<KernelSteering> ks_;
    Fd lsn_;
    sockaddr_in addr_{};
};

TEST_F(Steering, ProgramsAreAttached) {
    const auto a = ks_->attachment();
    EXPECT_NE(a.sockops_prog_id, 0u);
    EXPECT_NE(a.verdict_prog_id, 0u);
}

TEST_F(Steering, ExactRouteTls13) {
    const auto before = ks_->counters();
    const auto d = run({client_hello("A.Test")});
    EXPECT_EQ(d.facts.status, CH_OK);
    EXPECT_EQ(sni::sni_of(d.facts), "a.test");
    EXPECT_EQ(d.route_id, 0);
    EXPECT_EQ(d.listener_id, kListener);
    const auto after = ks_->counters();
    EXPECT_GT(after.inserted, before.inserted);
    EXPECT_GT(after.decisions, before.decisions);
    EXPECT_GT(after.by_route[0], before.by_route[0]);
}

TEST_F(Steering, WildcardMatchesOneLabelOnly) {
    EXPECT_EQ(run({client_hello("x.w.test", TLS1_2_VERSION)}).route_id, 1);
    EXPECT_EQ(run({client_hello("y.x.w.test")}).route_id, -1);
    EXPECT_EQ(run({client_hello("w.test")}).route_id, -1);
}

TEST_F(Steering, RoutesAreScopedToTheListener) {
    const auto d = run({client_hello("b.test")});  // b.test belongs to another listener
    EXPECT_EQ(d.facts.status, CH_OK);
    EXPECT_EQ(d.route_id, -1);
}

TEST_F(Steering, NoSni) {
    const auto d = run({client_hello("")});
    EXPECT_EQ(d.facts.status, CH_OK);
    EXPECT_FALSE(d.facts.flags & CH_F_SNI);
    EXPECT_EQ(d.route_id, -1);
}

// The first buffer held part of the ClientHello: the kernel defers (NEED_MORE) instead of
// holding a partial message, and every byte still reaches the daemon, in order, with the
// socket sound after release.
TEST_F(Steering, SplitOverSegmentsWithPausesIsDeferred) {
    const Bytes h = client_hello("a.test");
    const size_t third = h.size() / 3;
    const auto d = run({Bytes(h.begin(), h.begin() + 3), Bytes(h.begin() + 3, h.begin() + third),
                        Bytes(h.begin() + third, h.end())},
                       150);
    EXPECT_EQ(d.facts.status, CH_NEED_MORE);
    EXPECT_EQ(d.route_id, -1);
    EXPECT_GE(ks_->counters().by_status[CH_NEED_MORE], 1u);
}

TEST_F(Steering, OneByteRecords) {
    const Bytes h = reframe(client_hello("a.test"), 1);
    const auto d = run({h});
    EXPECT_EQ(d.facts.status, CH_OK);
    EXPECT_EQ(d.facts.record_bytes, h.size());
    EXPECT_EQ(d.route_id, 0);
}

TEST_F(Steering, ClientHelloFollowedByMoreData) {
    Bytes h = client_hello("a.test");
    const size_t hello_len = h.size();
    h.insert(h.end(), {0x17, 0x03, 0x03, 0x00, 0x01, 0x42});
    const auto d = run({h});
    EXPECT_EQ(d.facts.status, CH_OK);
    EXPECT_EQ(d.facts.record_bytes, hello_len);
}

TEST_F(Steering, PlaintextHttpIsNotTls) {
    const std::string http = "GET / HTTP/1.1\r\nHost: a.test\r\n\r\n";
    Fd c = connect_client();
    uint64_t cookie = 0;
    Fd s = accept_server(cookie);
    send(c.fd, http.data(), http.size(), 0);
    const auto d = wait_decision(cookie);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->facts.status, CH_NOT_TLS);
    Bytes got;
    ASSERT_EQ(drain(s.fd, cookie, got).status, KernelSteering::Drain::kDone);
    EXPECT_EQ(got, Bytes(http.begin(), http.end()));
}

TEST_F(Steering, HelloBeforeAcceptIsParsedAfterKick) {
    // The ClientHello is in the accept queue before accept(); kick() must make it parsed.
    const Bytes h = client_hello("a.test");
    Fd c = connect_client();
    send(c.fd, h.data(), h.size(), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    uint64_t cookie = 0;
    Fd s = accept_server(cookie);
    const auto d = wait_decision(cookie, 1000);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->route_id, 0);
    Bytes got;
    ASSERT_EQ(drain(s.fd, cookie, got).status, KernelSteering::Drain::kDone);
    EXPECT_EQ(got, h);
}

// A client that leaves before its ClientHello, with a FIN or with a reset, is reported on the
// ring buffer (NEED_MORE: the daemon looks at the socket, finds it closed, and closes its end),
// so the daemon need not watch the socket in epoll while the kernel classifies.
TEST_F(Steering, ClientFinBeforeClientHelloIsReported) {
    Fd c = connect_client();
    uint64_t cookie = 0;
    Fd s = accept_server(cookie);
    c = Fd();  // FIN
    const auto d = wait_decision(cookie);
    ASSERT_TRUE(d.has_value()) << "the FIN was not reported";
    EXPECT_EQ(d->facts.status, CH_NEED_MORE);
    char b;
    EXPECT_EQ(recv(s.fd, &b, 1, MSG_DONTWAIT), 0);  // end of stream, seen by the daemon's read
    ks_->release(cookie);
}

using sni::testsupport::reset_on_close;

TEST_F(Steering, ClientResetBeforeClientHelloIsReported) {
    Fd c = connect_client();
    uint64_t cookie = 0;
    Fd s = accept_server(cookie);
    ASSERT_TRUE(reset_on_close(c.fd));
    c = Fd();  // a reset, not a FIN
    const auto d = wait_decision(cookie);
    ASSERT_TRUE(d.has_value()) << "the reset was not reported";
    EXPECT_EQ(d->facts.status, CH_NEED_MORE);
    char b;
    EXPECT_EQ(recv(s.fd, &b, 1, MSG_DONTWAIT), -1);
    EXPECT_EQ(errno, ECONNRESET);
    ks_->release(cookie);
}

// The reset arrives while the socket waits in the accept queue: the report is there before
// accept() returns the socket.
TEST_F(Steering, ClientResetInTheAcceptQueueIsReported) {
    Fd c = connect_client();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(reset_on_close(c.fd));
    c = Fd();  // a reset, not a FIN
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    uint64_t cookie = 0;
    Fd s = accept_server(cookie);
    const auto d = wait_decision(cookie);
    ASSERT_TRUE(d.has_value()) << "the reset was not reported";
    EXPECT_EQ(d->facts.status, CH_NEED_MORE);
    ks_->release(cookie);
}

// Only a socket that leaves before its decision is reported: a connection closed after its
// ClientHello was decided yields that one decision and nothing else.
TEST_F(Steering, ResetAfterTheDecisionIsNotReported) {
    const Bytes h = client_hello("a.test");
    Fd c = connect_client();
    uint64_t cookie = 0;
    Fd s = accept_server(cookie);
    ASSERT_EQ(send(c.fd, h.data(), h.size(), 0), ssize_t(h.size()));
    const auto d = wait_decision(cookie);
    ASSERT_TRUE(d.has_value());
    EXPECT_EQ(d->route_id, 0);
    const auto before = ks_->counters().decisions;
    ASSERT_TRUE(reset_on_close(c.fd));
    c = Fd();  // a reset, not a FIN
    EXPECT_FALSE(wait_decision(cookie, 200).has_value());
    EXPECT_EQ(ks_->counters().decisions, before);
    ks_->release(cookie);
}

TEST_F(Steering, RouteTableSwitchIsWhole) {
    ASSERT_TRUE(ks_->set_routes({{kListener, "c.test", 3}}).ok());
    EXPECT_EQ(run({client_hello("c.test")}).route_id, 3);
    EXPECT_EQ(run({client_hello("a.test")}).route_id, -1);
}

}  // namespace

namespace {

// Many clients whose ClientHellos arrive before accept(): every one must still be classified
// (the kick after accept makes the kernel parse what was queued).
TEST_F(Steering, ManyHellosQueuedBeforeAccept) {
    constexpr int kConns = 100;  // within the listen backlog (128)
    const Bytes h = client_hello("a.test");
    std::vector<Fd> clients;
    for (int i = 0; i < kConns; i++) {
        clients.push_back(connect_client());
        ASSERT_EQ(send(clients.back().fd, h.data(), h.size(), 0), ssize_t(h.size()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<Fd> servers;
    std::set<uint64_t> cookies;
    for (int i = 0; i < kConns; i++) {
        uint64_t cookie = 0;
        servers.push_back(accept_server(cookie));
        cookies.insert(cookie);
    }
    std::set<uint64_t> decided;
    const std::function<void(const KernelDecision &)> sink = [&](const KernelDecision &d) {
        if (cookies.count(d.cookie) && d.route_id == 0) decided.insert(d.cookie);
    };
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    while (decided.size() < cookies.size() && std::chrono::steady_clock::now() < deadline) {
        pollfd p{ks_->event_fd(), POLLIN, 0};
        poll(&p, 1, 50);
        ks_->consume(sink);
    }
    EXPECT_EQ(decided.size(), cookies.size());
    for (auto c : cookies) ks_->release(c);
}

}  // namespace
