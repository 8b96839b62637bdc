// Daemon: accepting connections (and shedding them when the process is out of fds).
#include <fcntl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/socket_facts.hpp"
#include "loader/daemon.hpp"
#include "loader/metrics_histogram.hpp"

namespace sni::loader {

namespace {

// One connection per wake-up, like nginx's default (multi_accept off): the listener is
// level-triggered, so a backlog wakes the next epoll_wait at once, and the usual single new
// connection costs no second accept4 that finds nothing.
constexpr int kAcceptBatch = 1;

}  // namespace

void Daemon::on_listener_ready(std::size_t socket_index) {
    if (socket_index >= sockets_.size() || !sockets_[socket_index].fd) return;  // closed
    const int lfd = sockets_[socket_index].fd.get();
    for (int i = 0; i < kAcceptBatch; ++i) {
        sockaddr_storage peer{};
        socklen_t peer_len = sizeof peer;
        const int fd = ::accept4(lfd, reinterpret_cast<sockaddr *>(&peer), &peer_len,
                                 SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            start_connection(socket_index, UniqueFd(fd), peer, peer_len);
            continue;
        }
        const int err = errno;
        if (err == EAGAIN) return;
        if (err == EINTR || err == ECONNABORTED) continue;
        if (err == EMFILE || err == ENFILE) {
            shed_one(lfd);
            if (!reserve_fd_) {
                // Cannot even shed: stop listening until the next housekeeping tick instead of
                // spinning on a readable listener.
                socket_paused_[socket_index] = true;
                loop_.modify(lfd, 0, Token{TokenKind::kListener, socket_index});
                return;
            }
            continue;
        }
        ++counters_.accept_errors;
        if (accept_log_limit_.allow(Clock::now()))
            log_.error("accept failed", {log::kv("addr", sockets_[socket_index].address),
                                         log::kv("error", std::strerror(err))});
        return;
    }
}

// Out of fds: give up the reserve fd, accept the excess connection and close it at once, take
// the reserve back. The client sees a close instead of a connection stuck in the backlog.
void Daemon::shed_one(int listen_fd) {
    if (!reserve_fd_) reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!reserve_fd_) return;
    reserve_fd_.reset();
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) {
        ::close(fd);
        ++counters_.accept_shed;
    }
    reserve_fd_.reset(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (accept_log_limit_.allow(Clock::now()))
        log_.warn("out of file descriptors: connection accepted and closed",
                  {log::kv("shed_total", counters_.accept_shed)});
}

void Daemon::start_connection(std::size_t socket_index, UniqueFd fd, const sockaddr_storage &peer,
                              socklen_t peer_len) {
    const ListenerSocket &ls = sockets_[socket_index];
    ++counters_.accepted;
    Connection c;
    c.id = next_conn_id_++;
    c.listener_id = ls.listener_id;
    c.accepted_ns = monotonic_ns();
    c.client = peer;
    c.client_len = peer_len;
    c.local = ls.local;  // a listener bound to one address: that is the local address
    c.local_len = ls.local_len;
    if (ls.wildcard) {
        socklen_t len = sizeof c.local;
        sockaddr_storage local{};
        if (::getsockname(fd.get(), reinterpret_cast<sockaddr *>(&local), &len) == 0) {
            c.local = local;
            c.local_len = len;
        }
    }
    c.cookie = socket_cookie(fd.get()).value_or(0);
    c.fd = std::move(fd);

    const bool bpf = classifier_.bpf != nullptr;
    c.in_steering = bpf;
    if (log_.enabled(log::Level::kDebug))
        log_.debug("accepted", {log::kv("conn", c.id), log::kv("client", sockaddr_to_string(peer)),
                                log::kv("listener", config_.listeners[c.listener_id].name),
                                log::kv("cookie", c.cookie)});
    deadlines_[c.listener_id].push(c.id, Clock::now());
    Connection &conn = conns_.insert(std::move(c));
    const std::uint64_t id = conn.id;
    if (bpf) {
        // The kernel reports the ClientHello, or the client leaving before it (a FIN through
        // the verdict, a reset through the sockops state callback): no epoll while it does.
        take_into_steering(conn);
        return;
    }
    // Userspace: wait for the bytes.
    if (const int err = watch(conn, EPOLLIN | EPOLLRDHUP); err != 0) {
        if (accept_log_limit_.allow(Clock::now()))
            log_.error("epoll add connection failed", {log::kv("error", std::strerror(err))});
        close_connection(id, &Counters::accept_errors, "epoll add failed");
    }
}

int Daemon::watch(Connection &conn, std::uint32_t events) {
    const Token token{TokenKind::kConnection, conn.id};
    const int err = conn.watching == 0 ? loop_.add(conn.fd.get(), events, token)
                                       : loop_.modify(conn.fd.get(), events, token);
    if (err == 0) conn.watching = events;
    return err;
}

// BPF path, right after accept. The kick makes the kernel parse a ClientHello that arrived while
// the socket sat in the accept queue; the verdict runs inside that setsockopt, so its decision
// is on the ring buffer when it returns. A decision proves the kernel took the socket; only
// without one is the map asked (KernelSteering::owns), and a socket the kernel did not take
// (table full) is classified here instead. A socket the kernel classifies is not in epoll until
// its decision asks for it (NEED_MORE, or bytes still on their way): most are never in epoll.
void Daemon::take_into_steering(Connection &conn) {
    const std::uint64_t id = conn.id, cookie = conn.cookie;  // `conn` may go in on_steering_ready
    BpfClassifier::kick(conn.fd.get());
    if (auto parked = classifier_.bpf->claim(cookie)) {
        ++counters_.bpf_early_decisions;
        apply_kernel_decision(conn, *parked);
        return;
    }
    on_steering_ready();  // applies this connection's decision too, if the kick produced one
    Connection *now = conns_.find(id);
    if (now == nullptr || now->state != ConnState::kClassifying || !now->in_steering) return;
    if (classifier_.bpf->steering().owns(cookie)) return;  // the ClientHello is not here yet
    ++counters_.bpf_not_owned;
    now->in_steering = false;
    watch(*now, EPOLLIN | EPOLLRDHUP);
}

}  // namespace sni::loader
