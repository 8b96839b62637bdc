#include "common/socket_facts.hpp"

#include <linux/sockios.h>
#include <linux/tcp.h>  // tcp_info with tcpi_bytes_received / tcpi_bytes_acked (glibc's is older)
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

#ifndef SO_COOKIE
#define SO_COOKIE 57
#endif

namespace sni {

namespace {

// TCP states (include/net/tcp_states.h), as TCP_INFO reports them.
constexpr std::uint8_t kEstablished = 1, kTimeWait = 6, kClose = 7, kCloseWait = 8, kLastAck = 9,
                       kClosing = 11;

// TCP_INFO; the length the kernel filled in, 0 when the call failed.
socklen_t read_tcp_info(int fd, tcp_info &info) {
    socklen_t len = sizeof info;
    return ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) == 0 ? len : 0;
}

}  // namespace

std::optional<std::uint64_t> socket_cookie(int fd) {
    std::uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return std::nullopt;
    return cookie;
}

int socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
    return err;
}

void rearm_data_ready(int fd) {
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &one, sizeof one);
}

bool tcp_closed(int fd) {
    tcp_info info{};
    return read_tcp_info(fd, info) != 0 && info.tcpi_state == kClose;
}

ConnectProgress tcp_connect_progress(int fd) {
    tcp_info info{};
    if (read_tcp_info(fd, info) == 0) return ConnectProgress::kPending;
    switch (info.tcpi_state) {
        case kEstablished:
        case kCloseWait:  // connected, and the peer has already sent its FIN
            return ConnectProgress::kEstablished;
        case kClose:
            return ConnectProgress::kFailed;
        default:
            return ConnectProgress::kPending;
    }
}

std::uint64_t tcp_bytes_received(int fd) {
    tcp_info info{};
    if (read_tcp_info(fd, info) == 0) return 0;
    // The states a socket reaches once the peer's FIN arrived.
    const std::uint8_t st = info.tcpi_state;
    const bool fin = st == kCloseWait || st == kLastAck || st == kClosing || st == kTimeWait;
    return info.tcpi_bytes_received - (fin && info.tcpi_bytes_received > 0 ? 1 : 0);
}

std::optional<std::uint64_t> tcp_bytes_queued(int fd) {
    tcp_info info{};
    if (read_tcp_info(fd, info) <
        offsetof(tcp_info, tcpi_bytes_acked) + sizeof info.tcpi_bytes_acked)
        return std::nullopt;
    int outq = 0;
    if (::ioctl(fd, SIOCOUTQ, &outq) != 0 || outq < 0) return std::nullopt;
    return info.tcpi_bytes_acked + static_cast<std::uint64_t>(outq);
}

}  // namespace sni
