// Reads what a non-blocking socket holds right now, without waiting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sni {

struct RecvAvailable {
    bool eof = false;  // the peer's FIN was read
    int error = 0;     // errno of a failed recv (0: none)
};

// Appends to `out` until the receive queue is empty (a short read, or recv would block), the
// peer closed, recv failed, or `out` holds more than `limit` bytes. EINTR is retried. A FIN
// right behind the bytes of a short read is reported by the next call.
RecvAvailable recv_available(int fd, std::vector<std::uint8_t> &out, std::size_t limit);

// Appends to `out` until it holds `want` bytes, never more (what follows stays in the socket).
enum class RecvExactly : std::uint8_t {
    kDone,        // `out` holds `want` bytes
    kWouldBlock,  // fewer are there yet
    kEof,         // the peer closed first
    kError,       // recv failed: errno says why
};
RecvExactly recv_exactly(int fd, std::vector<std::uint8_t> &out, std::size_t want);

}  // namespace sni
