// 1,000 concurrent connections across three passthrough routes, every byte checked: each
// connection sends its ClientHello and 4 KiB of its own random bytes and must read exactly those
// bytes back (the test worker echoes), while all of them are open at the same time.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "splitter_fixture.hpp"

namespace sni::itest {
namespace {

class LoadTest : public SplitterTest {};

struct Client {
    UniqueFd fd;
    Bytes expected;
    std::size_t sent = 0;
    Bytes got;
    bool done = false;
    bool failed = false;
};

TEST_P(LoadTest, ThousandConcurrentConnectionsAcrossThreeRoutes) {
    constexpr int kConns = 1000;
    const Bytes hellos[3] = {build_client_hello({.sni = "p1.test"}),
                             build_client_hello({.sni = "p2.test"}),
                             build_client_hello({.sni = "p3.test"})};
    UniqueFd ep(::epoll_create1(EPOLL_CLOEXEC));
    ASSERT_TRUE(ep.valid());

    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(main_port_);
    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);

    std::vector<Client> clients(kConns);
    for (int i = 0; i < kConns; ++i) {
        Client &c = clients[static_cast<std::size_t>(i)];
        c.expected = hellos[i % 3];
        const Bytes payload = random_payload(4096, static_cast<std::uint32_t>(1000 + i));
        c.expected.insert(c.expected.end(), payload.begin(), payload.end());
        c.fd.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        ASSERT_TRUE(c.fd.valid()) << "socket: " << std::strerror(errno);
        const int one = 1;
        ::setsockopt(c.fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const int rc = ::connect(c.fd.get(), reinterpret_cast<sockaddr *>(&sin), sizeof sin);
        ASSERT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u32 = static_cast<std::uint32_t>(i);
        ASSERT_EQ(::epoll_ctl(ep.get(), EPOLL_CTL_ADD, c.fd.get(), &ev), 0);
    }

    int remaining = kConns;
    const auto deadline = Clock::now() + 20s;
    epoll_event events[256];
    while (remaining > 0 && Clock::now() < deadline) {
        const int n = ::epoll_wait(ep.get(), events, 256, 200);
        for (int k = 0; k < n; ++k) {
            Client &c = clients[events[k].data.u32];
            if (c.done) continue;
            auto finish = [&](bool failed) {
                c.done = true;
                c.failed = failed;
                ::epoll_ctl(ep.get(), EPOLL_CTL_DEL, c.fd.get(), nullptr);
                c.fd.reset();
                --remaining;
            };
            if ((events[k].events & EPOLLOUT) && c.sent < c.expected.size()) {
                const ssize_t w = ::send(c.fd.get(), c.expected.data() + c.sent,
                                         c.expected.size() - c.sent, MSG_NOSIGNAL);
                if (w > 0) {
                    c.sent += static_cast<std::size_t>(w);
                } else if (w < 0 && errno != EAGAIN) {
                    finish(true);
                    continue;
                }
                if (c.sent == c.expected.size()) {
                    epoll_event ev{};
                    ev.events = EPOLLIN;
                    ev.data.u32 = events[k].data.u32;
                    ::epoll_ctl(ep.get(), EPOLL_CTL_MOD, c.fd.get(), &ev);
                }
            }
            if (events[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                std::uint8_t buf[16384];
                const ssize_t r = ::recv(c.fd.get(), buf, sizeof buf, 0);
                if (r > 0) {
                    c.got.insert(c.got.end(), buf, buf + r);
                    if (c.got.size() >= c.expected.size()) finish(false);
                } else if (r == 0 || errno != EAGAIN) {
                    finish(true);
                }
            }
        }
    }
    int failed = 0, mismatched = 0, unfinished = 0;
    for (const Client &c : clients) {
        if (!c.done)
            ++unfinished;
        else if (c.failed)
            ++failed;
        else if (c.got != c.expected)
            ++mismatched;
    }
    EXPECT_EQ(unfinished, 0);
    EXPECT_EQ(failed, 0);
    EXPECT_EQ(mismatched, 0);

    EXPECT_EQ(daemon_->stop(), 0);
    const std::string log = daemon_->log();
    EXPECT_NE(log.find(" handed_off=1000 "), std::string::npos);
    EXPECT_NE(log.find(" handoff_overflow=0 "), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Classifiers, LoadTest, SNI_CLASSIFIERS, classifier_name);

}  // namespace
}  // namespace sni::itest
