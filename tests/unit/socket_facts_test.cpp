// The kernel facts common/socket_facts relies on, on loopback: what tcp_bytes_queued counts on
// a connect()ed and on an accepted socket. The kernel relay's FIN hand-over compares these
// counts with the bytes it redirected; one byte off sends a FIN before the last byte.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/fd.hpp"
#include "common/socket_facts.hpp"
#include "tests/support/process_probe.hpp"

namespace sni {
namespace {

struct Pair {
    UniqueFd active, passive;
};

Pair connected_pair() {
    Pair p;
    UniqueFd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (!l || ::bind(l.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0 ||
        ::listen(l.get(), 1) != 0 ||
        ::getsockname(l.get(), reinterpret_cast<sockaddr *>(&a), &len) != 0)
        return p;
    p.active.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (::connect(p.active.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0) return p;
    p.passive.reset(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
    return p;
}

TEST(SocketFacts, ConnectedSocketCountsItsSynAcceptedSocketDoesNot) {
    Pair p = connected_pair();
    ASSERT_TRUE(p.active.valid() && p.passive.valid());
    EXPECT_EQ(tcp_bytes_queued(p.active.get()).value_or(99), kSynInBytesAcked);
    EXPECT_EQ(tcp_bytes_queued(p.passive.get()).value_or(99), 0u);

    const char data[175] = {};
    ASSERT_EQ(::send(p.active.get(), data, sizeof data, 0), 175);
    ASSERT_EQ(::send(p.passive.get(), data, 10, 0), 10);
    // Written bytes count as soon as send() returns (queued or acknowledged), on top of the
    // SYN for the connect()ed socket.
    EXPECT_EQ(tcp_bytes_queued(p.active.get()).value_or(0), 175 + kSynInBytesAcked);
    EXPECT_EQ(tcp_bytes_queued(p.passive.get()).value_or(0), 10u);
}

// The BPF handoff compares these with the bytes it read: a FIN counted as a byte made it wait
// for a byte that never comes (the daemon spun until client_hello_timeout on a client that sent
// its ClientHello and half-closed).
TEST(SocketFacts, BytesReceivedCountsStreamBytesNotTheFin) {
    Pair p = connected_pair();
    ASSERT_TRUE(p.active.valid() && p.passive.valid());
    const char data[175] = {};
    ASSERT_EQ(::send(p.active.get(), data, sizeof data, 0), 175);
    EXPECT_EQ(tcp_bytes_received(p.passive.get()), 175u);
    ASSERT_EQ(::shutdown(p.active.get(), SHUT_WR), 0);
    char buf[256];
    ASSERT_EQ(::recv(p.passive.get(), buf, sizeof buf, 0), 175);
    ASSERT_EQ(::recv(p.passive.get(), buf, sizeof buf, 0), 0);  // the FIN is here
    EXPECT_EQ(tcp_bytes_received(p.passive.get()), 175u);
}

// The kernel relay tells a reset from both FINs by it when the reset came without its error.
TEST(SocketFacts, ClosedAfterAReset) {
    Pair p = connected_pair();
    ASSERT_TRUE(p.active.valid() && p.passive.valid());
    EXPECT_FALSE(tcp_closed(p.passive.get()));
    ASSERT_TRUE(testsupport::reset_on_close(p.active.get()));
    p.active.reset();  // RST
    EXPECT_TRUE(tcp_closed(p.passive.get()));
}

// The worker goes on with a backend connection at once when connect() has already finished
// (loopback), and waits for EPOLLOUT otherwise.
UniqueFd nonblocking_connect(const sockaddr_in &to) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    const int rc = ::connect(fd.get(), reinterpret_cast<const sockaddr *>(&to), sizeof to);
    EXPECT_TRUE(rc == 0 || errno == EINPROGRESS) << std::strerror(errno);
    return fd;
}

sockaddr_in listening(const UniqueFd &l, int backlog) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    EXPECT_EQ(::bind(l.get(), reinterpret_cast<sockaddr *>(&a), sizeof a), 0);
    EXPECT_EQ(::listen(l.get(), backlog), 0);
    EXPECT_EQ(::getsockname(l.get(), reinterpret_cast<sockaddr *>(&a), &len), 0);
    return a;
}

TEST(SocketFacts, LoopbackConnectHasFinishedWhenConnectReturns) {
    UniqueFd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_in a = listening(l, 8);
    UniqueFd c = nonblocking_connect(a);
    EXPECT_EQ(tcp_connect_progress(c.get()), ConnectProgress::kEstablished);
}

TEST(SocketFacts, RefusedConnectHasFailedWhenConnectReturns) {
    sockaddr_in a{};
    {
        UniqueFd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        a = listening(l, 1);
    }  // closed: the port refuses
    UniqueFd c = nonblocking_connect(a);
    EXPECT_EQ(tcp_connect_progress(c.get()), ConnectProgress::kFailed);
    EXPECT_EQ(socket_error(c.get()), ECONNREFUSED);
}

// A full accept queue drops the SYN: the connect is still under way.
TEST(SocketFacts, ConnectToAFullAcceptQueueIsPending) {
    UniqueFd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_in a = listening(l, 0);
    std::vector<UniqueFd> held;
    ConnectProgress last = ConnectProgress::kEstablished;
    for (int i = 0; i < 4 && last != ConnectProgress::kPending; ++i) {
        held.push_back(nonblocking_connect(a));
        last = tcp_connect_progress(held.back().get());
    }
    EXPECT_EQ(last, ConnectProgress::kPending);
}

}  // namespace
}  // namespace sni
