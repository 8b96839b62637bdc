// The passthrough relay in the kernel (workers/kernel_relay.hpp), as one Connection state: both
// sockets are paired in the BPF maps once the ClientHello is on its way to the backend; the
// worker then watches only for each side's end (EPOLLRDHUP) and errors, carries each FIN over
// once every byte redirected before it has been taken for sending, and unpairs both sockets
// before closing them.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "common/socket_facts.hpp"
#include "workers/connection.hpp"

namespace sni::worker {

namespace {

// How often a FIN waiting for its bytes (still in the kernel's redirect queue) is re-checked.
constexpr auto kFlushPoll = std::chrono::milliseconds(1);

}  // namespace

bool Connection::start_kernel_relay(Clock::time_point now) {
    KernelRelay *relay = env_.relay;
    if (relay == nullptr || relay->disabled()) return false;
    // Bytes the client sent behind its ClientHello without waiting for an answer (TLS 1.3
    // early data) are relayed in userspace, with read() (a psock is not spliced from):
    //  - in the client's psock (the socket is in the classifier's map all along), the pair
    //    would redirect what follows them before they are taken;
    //  - in its TCP queue (the daemon classified it in userspace and read exactly the
    //    ClientHello), the kernel would redirect the whole buffer the hello's end shares with
    //    them, the ClientHello bytes the daemon already read included: the verdict-only mode
    //    hands the program whole buffers, not the unread rest (measured on 6.18: the backend
    //    got the ClientHello twice; KernelOwnership test).
    std::uint8_t probe = 0;
    if (::recv(client_.fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 1) return false;
    auto joined = relay->join(client_.fd(), handoff_.cookie, backend_.fd(), client_in_map_);
    if (!joined) {
        const KernelRelay::JoinError &e = joined.error();
        if (e.err == EPERM || e.err == EACCES) {
            relay->disable();
            env_.log.warn("kernel relay not permitted here, passthrough is relayed in userspace",
                          {log::kv("error", e.what + ": " + std::strerror(e.err))});
        } else {
            env_.log.debug("kernel relay unavailable for this connection, relaying in userspace",
                           {log::kv("error", e.what + ": " + std::strerror(e.err))});
        }
        return false;
    }
    kernel_ = joined.value();
    stats_.kernel_relay = true;
    // A byte held on one socket arrived while its peer was not paired yet: the bytes after it
    // were redirected, so it cannot be put back in order. A TLS client sends nothing in that
    // window (it waits for the backend's answer); close rather than reorder.
    // Only the client can hold: the backend goes in last, when its peer is already there.
    // A client socket that was in the map all along can also have bytes in its psock that
    // passed the verdict after the look above and before the pair was made.
    const std::uint64_t held = relay->counts(kernel_->client).held;
    const bool queued =
        client_in_map_ && ::recv(client_.fd(), &probe, 1, MSG_PEEK | MSG_DONTWAIT) == 1;
    if (held > 0 || queued) {
        finish(conn_report::CloseReason::kRelayError,
               held > 0 ? "kernel relay: " + std::to_string(held) +
                              " bytes arrived before both sockets were paired"
                        : std::string("kernel relay: client bytes arrived while the sockets "
                                      "were being paired"),
               now);
        return false;
    }
    if (env_.reports != nullptr)
        env_.reports->send(make_report(stats_, conn_report::Event::kOpened));
    return true;
}

void Connection::kernel_event(LegId leg, std::uint32_t events, Clock::time_point now) {
    const Leg &l = leg == LegId::kClient ? client_ : backend_;
    // Our FIN on this socket went out already: then EPOLLHUP is both FINs.
    const bool ours_sent = leg == LegId::kClient ? k_down_done_ : k_up_done_;
    if (events & (EPOLLERR | EPOLLHUP)) {  // a reset, or both FINs
        int err = socket_error(l.fd());
        // A reset can come without its error: measured on 6.18, a client socket that sat in
        // the SOCKHASH since accept sometimes woke with EPOLLHUP, no EPOLLERR and SO_ERROR 0,
        // already closed. Closed while our FIN never left is a reset all the same.
        if (err == 0 && !ours_sent && (events & EPOLLHUP) && tcp_closed(l.fd())) err = ECONNRESET;
        if (err != 0) {
            finish(conn_report::CloseReason::kRelayError, l.name() + ": " + std::strerror(err),
                   now);
            return;
        }
    }
    if (events & (EPOLLRDHUP | EPOLLHUP)) (leg == LegId::kClient ? k_up_eof_ : k_down_eof_) = true;
    kernel_progress(now, false);
}

// The bytes redirected so far from the client (up) or the backend; remembered, so the final
// counts after both FINs cost no more lookups.
std::uint64_t Connection::kernel_bytes(bool up) {
    const KernelRelay::Counts c = env_.relay->counts(up ? kernel_->client : kernel_->backend);
    std::uint64_t &resent = up ? k_up_resent_ : k_down_resent_;
    resent = c.resent;
    k_cut_failed_ = k_cut_failed_ || c.cut_failed;
    return (up ? k_up_bytes_ : k_down_bytes_) = c.bytes;
}

// True when `to_fd` has taken `expected` bytes for sending: then its FIN goes after them.
bool Connection::kernel_flush(int to_fd, std::uint64_t expected, bool &done) {
    const auto queued = tcp_bytes_queued(to_fd);
    if (!queued || *queued < expected) return false;
    ::shutdown(to_fd, SHUT_WR);
    done = true;
    return true;
}

// `timer`: also note activity for the idle timeout (the bytes moved since the last look).
void Connection::kernel_progress(Clock::time_point now, bool timer) {
    if (timer) {
        const std::uint64_t seen = kernel_bytes(true) + kernel_bytes(false);
        if (seen != k_seen_bytes_) {
            k_seen_bytes_ = seen;
            last_activity_ = now;
        }
    }
    if (k_cut_failed_) {
        // The verdict dropped a retransmitted buffer whose already-sent head it could not cut
        // off: its new bytes are lost, so the pair cannot go on. The flag comes with the
        // counts, read on the timer's look at the latest (the stalled peers go idle).
        finish(conn_report::CloseReason::kRelayError,
               "kernel relay: a retransmitted buffer could not be trimmed and was dropped", now);
        return;
    }
    // A side's count read after its FIN is final: nothing follows a FIN. What each socket had
    // taken for sending before the pair, as tcp_bytes_queued counts it: the preamble (PROXY
    // header, ClientHello and what followed it) plus the SYN on the backend (connect()ed),
    // nothing on the client (accepted). Counting one byte short would send the FIN before the
    // last redirected byte, which is then lost (EPIPE).
    bool waiting = false;
    if (k_up_eof_ && !k_up_done_)
        waiting |= !kernel_flush(
            backend_.fd(), preamble_sent_ + kSynInBytesAcked + kernel_bytes(true), k_up_done_);
    if (k_down_eof_ && !k_down_done_)
        waiting |= !kernel_flush(client_.fd(), kernel_bytes(false), k_down_done_);
    if (k_up_done_ && k_down_done_) {
        finish(conn_report::CloseReason::kClosed, "closed", now);
        return;
    }
    if (waiting)
        k_flush_at_ = now + kFlushPoll;
    else
        k_flush_at_.reset();
}

void Connection::kernel_leave() {
    if (!k_up_done_) kernel_bytes(true);
    if (!k_down_done_) kernel_bytes(false);
    stats_.bytes_up += k_up_bytes_;
    stats_.bytes_down += k_down_bytes_;
    if (k_up_resent_ + k_down_resent_ > 0)
        env_.log.debug("kernel relay cut retransmitted bytes it had relayed already",
                       {log::kv("up", std::to_string(k_up_resent_)),
                        log::kv("down", std::to_string(k_down_resent_))});
    stats_.client_end = k_up_eof_ ? "fin" : "";
    stats_.backend_end = k_down_eof_ ? "fin" : "";
    env_.relay->leave(*kernel_);
    kernel_.reset();
}

}  // namespace sni::worker
