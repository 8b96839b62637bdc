#include "loader/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace sni::loader {

namespace {

config::Result<sockaddr_un, std::string> unix_address(const std::string &path) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof sun.sun_path)
        return config::unexpected("control socket path \"" + log::escape(path) +
                                  "\" is empty or too long");
    std::memcpy(sun.sun_path, path.c_str(), path.size() + 1);
    return sun;
}

// True when a daemon answers on `sun` (then we must not steal its socket).
bool someone_listens(const sockaddr_un &sun) {
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe) return false;
    return ::connect(probe.get(), reinterpret_cast<const sockaddr *>(&sun), sizeof sun) == 0;
}

}  // namespace

ControlServer::ControlServer(std::string path, UniqueFd fd, EventLoop &loop, const log::Logger &log,
                             Handler handler)
    : path_(std::move(path)),
      fd_(std::move(fd)),
      loop_(&loop),
      log_(&log),
      handler_(std::move(handler)) {}

ControlServer::~ControlServer() {
    if (!fd_) return;  // moved from
    for (auto &[id, c] : clients_) loop_->remove(c.fd.get());
    loop_->remove(fd_.get());
    if (unlink_on_close_) ::unlink(path_.c_str());
}

config::Result<ControlServer, std::string> ControlServer::open(const std::string &path,
                                                               EventLoop &loop,
                                                               const log::Logger &log,
                                                               Handler handler) {
    auto fail = [&](std::string what) {
        return config::unexpected("control socket " + log::escape(path) + ": " + what);
    };
    auto sun = unix_address(path);
    if (!sun) return config::unexpected(std::move(sun).error());
    const std::filesystem::path dir = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());
        ::chmod(dir.c_str(), 0700);
    }
    if (someone_listens(*sun)) return fail("another sni-splitterd is listening on it");
    ::unlink(path.c_str());  // a stale socket left by a crash

    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return fail(std::string("socket: ") + std::strerror(errno));
    // Created 0600 from the start: no window in which someone else could connect.
    const mode_t old_mask = ::umask(0177);
    const int rc = ::bind(fd.get(), reinterpret_cast<const sockaddr *>(&*sun), sizeof *sun);
    const int err = errno;
    ::umask(old_mask);
    if (rc != 0) return fail(std::string("bind: ") + std::strerror(err));
    ::chmod(path.c_str(), 0600);
    if (::listen(fd.get(), 64) != 0) return fail(std::string("listen: ") + std::strerror(errno));
    if (const int e = loop.add(fd.get(), EPOLLIN, Token{TokenKind::kControl, 0}); e != 0)
        return fail(std::string("epoll add: ") + std::strerror(e));
    return ControlServer(path, std::move(fd), loop, log, std::move(handler));
}

void ControlServer::on_listen_ready() {
    for (;;) {
        UniqueFd c(::accept4(fd_.get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
        if (!c) return;  // EAGAIN, or out of fds: the next readiness retries
        if (clients_.size() >= kMaxClients) {
            const std::string busy = control::encode_error("refused", "too many control clients");
            (void)::send(c.get(), busy.data(), busy.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            continue;
        }
        const std::uint64_t id = next_id_++;
        Client &client = clients_[id];
        client.fd = std::move(c);
        client.started = Clock::now();
        ucred cred{};
        socklen_t len = sizeof cred;
        const bool known = ::getsockopt(client.fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0;
        loop_->add(client.fd.get(), EPOLLIN | EPOLLRDHUP, Token{TokenKind::kControlClient, id});
        if (!known || (cred.uid != 0 && cred.uid != ::geteuid())) {
            log_->warn("control client refused", {log::kv("uid", known ? cred.uid : -1),
                                                  log::kv("pid", known ? cred.pid : -1)});
            answer(id, client,
                   control::encode_error("forbidden",
                                         "permission denied: the control socket "
                                         "is for root only"));
        }
    }
}

void ControlServer::on_client_event(std::uint64_t id, std::uint32_t events) {
    const auto it = clients_.find(id);
    if (it == clients_.end()) return;
    Client &c = it->second;
    if (c.answered) {
        if (events & (EPOLLHUP | EPOLLERR)) {
            drop(id);
            return;
        }
        write_answer(id, c);
        return;
    }
    read_request(id, c);
}

void ControlServer::read_request(std::uint64_t id, Client &c) {
    char buf[4096];
    for (;;) {
        const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
        if (n > 0) {
            c.in.append(buf, static_cast<std::size_t>(n));
            if (c.in.find('\n') != std::string::npos) break;
            if (c.in.size() > control::kMaxRequestBytes) {
                answer(id, c, control::encode_error("bad_request", "request too large"));
                return;
            }
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;  // wait for the rest
        if (n == 0 && !c.in.empty()) break;    // the client half-closed after its request
        drop(id);
        return;
    }
    const std::string line = c.in.substr(0, c.in.find('\n'));
    std::string error;
    const auto request = control::parse_request(line, error);
    if (!request) {
        answer(id, c, control::encode_error("bad_request", error));
        return;
    }
    answer(id, c, handler_(*request));
}

void ControlServer::answer(std::uint64_t id, Client &c, std::string text) {
    c.answered = true;
    c.out = std::move(text);
    c.sent = 0;
    loop_->modify(c.fd.get(), EPOLLOUT, Token{TokenKind::kControlClient, id});
    write_answer(id, c);
}

void ControlServer::write_answer(std::uint64_t id, Client &c) {
    while (c.sent < c.out.size()) {
        const ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent,
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c.sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;  // EPOLLOUT resumes
        break;
    }
    drop(id);
}

void ControlServer::drop(std::uint64_t id) {
    const auto it = clients_.find(id);
    if (it == clients_.end()) return;
    loop_->remove(it->second.fd.get());
    clients_.erase(it);
}

void ControlServer::expire(Clock::time_point now) {
    std::vector<std::uint64_t> late;
    for (const auto &[id, c] : clients_)
        if (now - c.started > kClientTimeout) late.push_back(id);
    for (const auto id : late) drop(id);
}

}  // namespace sni::loader
