#include "net_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace sni::itest {

UniqueFd connect_tcp(const std::string &host, std::uint16_t port) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    int family = AF_INET;
    if (host.find(':') != std::string::npos) {
        auto *sin6 = reinterpret_cast<sockaddr_in6 *>(&ss);
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        inet_pton(AF_INET6, host.c_str(), &sin6->sin6_addr);
        len = sizeof *sin6;
        family = AF_INET6;
    } else {
        auto *sin = reinterpret_cast<sockaddr_in *>(&ss);
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        inet_pton(AF_INET, host.c_str(), &sin->sin_addr);
        len = sizeof *sin;
    }
    UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    const int one = 1;
    ::setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd.get(), reinterpret_cast<sockaddr *>(&ss), len) != 0) return UniqueFd();
    return fd;
}

bool send_all(int fd, std::span<const std::uint8_t> bytes) {
    std::size_t off = 0;
    while (off < bytes.size()) {
        const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        off += static_cast<std::size_t>(n);
    }
    return true;
}

namespace {

ReadResult read_loop(int fd, std::size_t want, std::chrono::milliseconds timeout) {
    ReadResult r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (r.data.size() < want) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            r.timed_out = true;
            break;
        }
        pollfd p{fd, POLLIN, 0};
        const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
        if (ready < 0 && errno == EINTR) continue;
        if (ready <= 0) continue;
        std::uint8_t buf[16384];
        const std::size_t ask = std::min(sizeof buf, want - r.data.size());
        const ssize_t n = ::recv(fd, buf, ask, 0);
        if (n > 0) {
            r.data.insert(r.data.end(), buf, buf + n);
        } else if (n == 0) {
            r.closed = true;
            break;
        } else if (errno != EINTR && errno != EAGAIN) {
            r.closed = true;
            r.reset = errno == ECONNRESET;
            break;
        }
    }
    return r;
}

}  // namespace

ReadResult read_exactly(int fd, std::size_t want, std::chrono::milliseconds timeout) {
    return read_loop(fd, want, timeout);
}

ReadResult read_until_close(int fd, std::chrono::milliseconds timeout) {
    return read_loop(fd, SIZE_MAX, timeout);
}

std::string hex(std::span<const std::uint8_t> bytes) {
    std::string s;
    char buf[4];
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        std::snprintf(buf, sizeof buf, i ? " %02x" : "%02x", bytes[i]);
        s += buf;
    }
    return s;
}

}  // namespace sni::itest
