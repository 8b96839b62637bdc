#include "ctl/client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/fd.hpp"

namespace sni::ctl {

namespace {

constexpr int kTimeoutMs = 30000;  // a reload starts workers: give it time

Outcome failure(int code, std::string message) {
    Outcome o;
    o.exit_code = code;
    o.message = std::move(message);
    return o;
}

bool wait_for(int fd, short events) {
    pollfd p{fd, events, 0};
    return ::poll(&p, 1, kTimeoutMs) == 1;
}

}  // namespace

Outcome call(const std::string &socket_path, const control::Request &request) {
    sockaddr_un sun{};
    sun.sun_family = AF_UNIX;
    if (socket_path.empty() || socket_path.size() >= sizeof sun.sun_path)
        return failure(kExitUsage, "control socket path is empty or too long");
    std::memcpy(sun.sun_path, socket_path.c_str(), socket_path.size() + 1);
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) return failure(kExitRefused, std::string("socket: ") + std::strerror(errno));
    if (::connect(fd.get(), reinterpret_cast<const sockaddr *>(&sun), sizeof sun) != 0) {
        const int e = errno;
        if (e == ENOENT || e == ECONNREFUSED || e == ENOTDIR)
            return failure(kExitNotRunning, "sni-splitterd is not running (no daemon on " +
                                                socket_path + ": " + std::strerror(e) + ")");
        if (e == EACCES || e == EPERM)
            return failure(kExitPermission,
                           "permission denied on " + socket_path + ": sni-ctl must run as root");
        return failure(kExitNotRunning,
                       "cannot connect to " + socket_path + ": " + std::strerror(e));
    }
    const std::string text = control::encode_request(request);
    std::size_t sent = 0;
    while (sent < text.size()) {
        const ssize_t n = ::send(fd.get(), text.data() + sent, text.size() - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;  // the daemon may have answered (forbidden) and closed: read what it said
    }
    std::string answer;
    char buf[65536];
    for (;;) {
        if (!wait_for(fd.get(), POLLIN))
            return failure(kExitRefused, "no answer from the daemon within 30 s");
        const ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n > 0) {
            answer.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        break;
    }
    const auto response = control::parse_response(answer);
    if (!response)
        return failure(kExitRefused, answer.empty() ? "the daemon closed without answering"
                                                    : "the daemon's answer is not valid JSON");
    Outcome o;
    o.response = *response;
    if (!response->ok) {
        o.exit_code = response->code == "forbidden" ? kExitPermission : kExitRefused;
        o.message = response->error;
    }
    return o;
}

}  // namespace sni::ctl
