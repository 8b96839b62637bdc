// One direction of the relay (source leg -> destination leg) with bounded memory: either one
// 16 KiB buffer (SSL_read/SSL_write or recv/send) or, when both ends carry plaintext at the
// socket level (plain TCP, or kTLS in the needed direction), splice() through a pipe. The
// source is only read when the previous bytes have been written: a slow destination stops the
// reading (the connection drops EPOLLIN on the source), nothing is queued beyond the buffer.
// When the source ends, the end is carried to the destination (close_notify and/or FIN) and the
// direction is done; the other direction goes on independently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "common/fd.hpp"
#include "workers/leg.hpp"

namespace sni::worker {

class Direction {
  public:
    static constexpr std::size_t kBufferSize = 16 * 1024;

    Direction(Leg &src, Leg &dst) : src_(src), dst_(dst) {}

    // Switches to splice() (before the first pump). False when no pipe could be made.
    bool use_splice();
    bool splicing() const { return splice_; }

    // Moves bytes until blocked, done, failed, or at least `budget` bytes moved. Returns the
    // bytes moved by this call; `budget_hit()` tells whether it stopped for the budget.
    std::size_t pump(std::size_t budget);

    bool budget_hit() const { return budget_hit_; }
    bool done() const { return done_; }
    bool failed() const { return !error_.empty(); }
    const std::string &error() const { return error_; }
    std::uint64_t bytes() const { return bytes_; }
    // How the source ended: "close_notify", "fin" or "" while open.
    const char *source_end() const;

    // The epoll events this direction waits for on `leg` (0 when none).
    std::uint32_t events_for(const Leg &leg) const;
    // Whether readiness `events` on `leg` can let this direction move. Only a direction that
    // waits for the ordinary things (its source readable, its destination writable) can be
    // skipped when neither came; one that waits for nothing (not started, out of budget) or
    // for OpenSSL's crossed needs (a read that must write, a write that must read: a
    // renegotiation, a key update) is always pumped, as are errors and hang-ups.
    bool woken_by(const Leg &leg, std::uint32_t events) const;

  private:
    bool pump_buffered(std::size_t budget, std::size_t &moved);
    bool move_buffered(std::size_t budget, std::size_t &moved);
    bool pump_splice(std::size_t budget, std::size_t &moved);
    bool drain_pipe(std::size_t &moved);
    bool finish_source();
    bool blocked(const IoResult &r, bool on_src);
    void fail(const std::string &what) { error_ = what; }

    Leg &src_;
    Leg &dst_;
    std::unique_ptr<std::uint8_t[]> buf_;
    std::size_t head_ = 0, tail_ = 0;
    bool splice_ = false;
    UniqueFd pipe_r_, pipe_w_;
    std::size_t in_pipe_ = 0;
    bool src_drained_ = false;  // the last read left nothing behind (IoResult::drained)
    bool src_eof_ = false;
    bool eof_fin_ = false;
    bool done_ = false;
    bool budget_hit_ = false;
    std::uint32_t want_src_ = 0, want_dst_ = 0;
    std::uint64_t bytes_ = 0;
    std::string error_;
};

}  // namespace sni::worker
