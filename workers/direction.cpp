#include "workers/direction.hpp"

#include <fcntl.h>
#include <sys/epoll.h>

#include <cerrno>
#include <cstring>

namespace sni::worker {

namespace {

// Splice in 256 KiB steps: a quarter of the syscalls and wakeups of the default 64 KiB pipe
// (fcntl F_SETPIPE_SZ; when that fails, e.g. over /proc/sys/fs/pipe-max-size, the kernel just
// moves less per call).
constexpr std::size_t kPipeChunk = 256 * 1024;

std::uint32_t events_of(IoStatus s) {
    if (s == IoStatus::kWantRead) return EPOLLIN;
    if (s == IoStatus::kWantWrite) return EPOLLOUT;
    return 0;
}

}  // namespace

bool Direction::use_splice() {
    int p[2];
    if (::pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return false;
    pipe_r_.reset(p[0]);
    pipe_w_.reset(p[1]);
    ::fcntl(p[1], F_SETPIPE_SZ, static_cast<int>(kPipeChunk));
    splice_ = true;
    return true;
}

const char *Direction::source_end() const {
    if (!src_eof_) return "";
    return eof_fin_ ? "fin" : "close_notify";
}

std::uint32_t Direction::events_for(const Leg &leg) const {
    if (done_ || failed()) return 0;
    std::uint32_t ev = 0;
    if (&leg == &src_) ev |= want_src_;
    if (&leg == &dst_) ev |= want_dst_;
    return ev;
}

bool Direction::woken_by(const Leg &leg, std::uint32_t events) const {
    if (done_ || failed()) return false;
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) return true;
    const bool ordinary =
        (want_src_ | want_dst_) != 0 && (want_src_ & ~EPOLLIN) == 0 && (want_dst_ & ~EPOLLOUT) == 0;
    return !ordinary || (events_for(leg) & events) != 0;
}

bool Direction::blocked(const IoResult &r, bool on_src) {
    (on_src ? want_src_ : want_dst_) = events_of(r.status);
    return true;
}

std::size_t Direction::pump(std::size_t budget) {
    budget_hit_ = false;
    src_drained_ = false;  // called on readiness (or to resume): read at least once
    want_src_ = want_dst_ = 0;
    if (done_ || failed()) return 0;
    std::size_t moved = 0;
    if (splice_ ? pump_splice(budget, moved) : pump_buffered(budget, moved)) return moved;
    budget_hit_ = true;
    return moved;
}

// The source ended: carry it over. A TLS source that sent close_notify (or a plain one: FIN is
// all it has) becomes close_notify + FIN on a TLS destination; a TLS source that just closed
// the TCP connection becomes a bare FIN, so the destination sees the same truncation.
bool Direction::finish_source() {
    const bool close_notify = !(src_.ssl() != nullptr && eof_fin_);
    const IoResult r = dst_.shutdown_write(close_notify);
    if (r.status == IoStatus::kOk) {
        done_ = true;
        return true;
    }
    if (r.status == IoStatus::kError) {
        fail(dst_.name() + " " + r.error);
        return true;
    }
    return blocked(r, false);
}

// Returns true when it stopped for a reason other than the budget. Whatever the destination's
// coalescing filter holds is sent before returning; when the socket is full the direction
// also waits for it to be writable (and is not resumed for the budget: the filter is full).
bool Direction::pump_buffered(std::size_t budget, std::size_t &moved) {
    const bool stopped = move_buffered(budget, moved);
    if (done_ || failed()) return stopped;
    const IoResult f = dst_.flush();
    if (f.status == IoStatus::kOk) return stopped;
    if (f.status == IoStatus::kError) {
        fail(dst_.name() + " " + f.error);
        return true;
    }
    want_dst_ |= EPOLLOUT;
    return true;
}

bool Direction::move_buffered(std::size_t budget, std::size_t &moved) {
    if (in_pipe_ > 0 && !drain_pipe(moved)) return true;  // left over from splice mode
    if (!buf_) buf_.reset(new std::uint8_t[kBufferSize]);
    while (moved < budget) {
        if (tail_ > head_) {
            const IoResult w = dst_.write({buf_.get() + head_, tail_ - head_});
            if (w.status == IoStatus::kOk) {
                head_ += w.bytes;
                moved += w.bytes;
                bytes_ += w.bytes;
                if (head_ == tail_) head_ = tail_ = 0;
                continue;
            }
            if (w.status == IoStatus::kError || w.status == IoStatus::kEof) {
                fail(dst_.name() + " " + (w.error.empty() ? "closed" : w.error));
                return true;
            }
            return blocked(w, false);
        }
        if (src_eof_) return finish_source();
        if (src_drained_) {
            // The last read emptied the socket and OpenSSL: wait for EPOLLIN (level-triggered,
            // so bytes that came meanwhile wake us at once) rather than read into EAGAIN.
            want_src_ = EPOLLIN;
            return true;
        }
        const IoResult r = src_.read({buf_.get(), kBufferSize});
        if (r.status == IoStatus::kOk) {
            tail_ = r.bytes;
            src_drained_ = r.drained;
            continue;
        }
        if (r.status == IoStatus::kEof) {
            src_eof_ = true;
            eof_fin_ = src_.eof_was_fin();
            continue;
        }
        if (r.status == IoStatus::kError) {
            fail(src_.name() + " " + r.error);
            return true;
        }
        return blocked(r, true);
    }
    return false;
}

// Writes what the pipe holds to the destination. False when blocked or failed.
bool Direction::drain_pipe(std::size_t &moved) {
    while (in_pipe_ > 0) {
        const ssize_t n = ::splice(pipe_r_.get(), nullptr, dst_.fd(), nullptr, in_pipe_,
                                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) {
            in_pipe_ -= static_cast<std::size_t>(n);
            moved += static_cast<std::size_t>(n);
            bytes_ += static_cast<std::uint64_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) {
            want_dst_ = EPOLLOUT;
            return false;
        }
        fail(dst_.name() + " splice: " + (n == 0 ? "no progress" : std::strerror(errno)));
        return false;
    }
    return true;
}

bool Direction::pump_splice(std::size_t budget, std::size_t &moved) {
    while (moved < budget) {
        if (in_pipe_ > 0) {
            if (!drain_pipe(moved)) return true;
            continue;
        }
        if (src_eof_) return finish_source();
        const ssize_t n = ::splice(src_.fd(), nullptr, pipe_w_.get(), nullptr, kPipeChunk,
                                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
        if (n > 0) {
            in_pipe_ = static_cast<std::size_t>(n);
            continue;
        }
        if (n == 0) {
            src_eof_ = true;
            eof_fin_ = true;
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN) {
            want_src_ = EPOLLIN;
            return true;
        }
        if (src_.ssl() != nullptr && (errno == EINVAL || errno == EIO)) {
            // kTLS receive: a non-data record (alert, key update...). Let OpenSSL read it.
            splice_ = false;
            return pump_buffered(budget, moved);
        }
        fail(src_.name() + " splice: " + std::strerror(errno));
        return true;
    }
    return false;
}

}  // namespace sni::worker
