#include "common/recv_available.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace sni {

RecvAvailable recv_available(int fd, std::vector<std::uint8_t> &out, std::size_t limit) {
    std::uint8_t buf[16384];
    for (;;) {
        if (out.size() > limit) return {};
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            out.insert(out.end(), buf, buf + n);
            // A short read emptied the receive queue: no second recv() to hear EAGAIN. A FIN
            // queued behind the bytes is seen on the next (level-triggered) wake-up.
            if (static_cast<std::size_t>(n) < sizeof buf) return {};
            continue;
        }
        if (n == 0) return {.eof = true};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {};
        return {.error = errno};
    }
}

RecvExactly recv_exactly(int fd, std::vector<std::uint8_t> &out, std::size_t want) {
    std::uint8_t buf[4096];
    while (out.size() < want) {
        const std::size_t ask = std::min(sizeof buf, want - out.size());
        const ssize_t n = ::recv(fd, buf, ask, MSG_DONTWAIT);
        if (n > 0) {
            out.insert(out.end(), buf, buf + n);
            continue;
        }
        if (n == 0) return RecvExactly::kEof;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return RecvExactly::kWouldBlock;
        return RecvExactly::kError;
    }
    return RecvExactly::kDone;
}

}  // namespace sni
