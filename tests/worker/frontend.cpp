#include "tests/worker/frontend.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "common/handoff.hpp"

namespace sni::wtest {

namespace {

std::uint16_t bound_port(int fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
    return ntohs(a.sin_port);
}

UniqueFd loopback_socket(bool listen) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a) != 0)
        throw std::runtime_error("bind failed");
    if (listen && ::listen(fd.get(), 64) != 0) throw std::runtime_error("listen failed");
    return fd;
}

}  // namespace

Frontend::Frontend() : listen_(loopback_socket(true)), port_(bound_port(listen_.get())) {
    // As the daemon's listeners: accepted sockets inherit it, and the worker counts on that.
    const int one = 1;
    ::setsockopt(listen_.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::string Frontend::accept_and_handoff(int channel, std::uint32_t route_id, ch_info *facts,
                                         std::chrono::milliseconds timeout) {
    pollfd p{listen_.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "no client connected";
    UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) return std::string("accept: ") + std::strerror(errno);

    std::vector<std::uint8_t> bytes;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    const ch_info *info = nullptr;
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        pollfd q{conn.get(), POLLIN, 0};
        if (left.count() <= 0 || ::poll(&q, 1, static_cast<int>(left.count())) != 1)
            return "timed out reading the ClientHello";
        std::uint8_t buf[4096];
        const ssize_t n = ::recv(conn.get(), buf, sizeof buf, 0);
        if (n <= 0) return "client closed before its ClientHello was complete";
        bytes.insert(bytes.end(), buf, buf + n);
        info = &parser_.parse(bytes);
        if (info->status == CH_OK) break;
        if (info->status != CH_NEED_MORE)
            return "bad ClientHello: " + std::string(status_name(info->status));
    }
    if (facts != nullptr) *facts = *info;

    handoff::Handoff h;
    h.conn_id = next_conn_id_++;
    h.route_id = route_id;
    h.listener_id = 0;
    h.facts = *info;
    h.client_len = sizeof h.client;
    ::getpeername(conn.get(), reinterpret_cast<sockaddr *>(&h.client), &h.client_len);
    h.local_len = sizeof h.local;
    ::getsockname(conn.get(), reinterpret_cast<sockaddr *>(&h.local), &h.local_len);
    const auto r = handoff::send_handoff(channel, h, bytes, conn.get());
    if (r.status != handoff::SendStatus::kSent)
        return std::string("send_handoff failed: ") + std::strerror(r.err);
    return "";
}

BlackholePort::BlackholePort() : listen_(loopback_socket(false)) {
    if (::listen(listen_.get(), 0) != 0) throw std::runtime_error("listen failed");
    port_ = bound_port(listen_.get());
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // Fill the accept queue until a connect no longer completes.
    for (int i = 0; i < 8; ++i) {
        UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
        const int rc = ::connect(fd.get(), reinterpret_cast<sockaddr *>(&a), sizeof a);
        if (rc != 0 && errno != EINPROGRESS) throw std::runtime_error("filler connect failed");
        pollfd p{fd.get(), POLLOUT, 0};
        const bool connected = ::poll(&p, 1, 200) == 1;
        fillers_.push_back(std::move(fd));
        if (!connected) return;
    }
    throw std::runtime_error("the accept queue never filled");
}

RefusedPort::RefusedPort() : fd_(loopback_socket(false)), port_(bound_port(fd_.get())) {}

}  // namespace sni::wtest
