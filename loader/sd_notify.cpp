#include "loader/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "common/fd.hpp"

namespace sni::loader {

config::Result<bool, std::string> notify_socket_send(std::string_view socket_path,
                                                     std::string_view state) {
    if (socket_path.empty()) return true;
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (socket_path.size() >= sizeof(addr.sun_path))
        return config::unexpected(std::string("NOTIFY_SOCKET path too long"));
    if (socket_path[0] != '/' && socket_path[0] != '@')
        return config::unexpected(std::string("NOTIFY_SOCKET is neither a path nor @abstract"));
    std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());
    if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path.size());

    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!fd) return config::unexpected(std::string("socket: ") + std::strerror(errno));
    const ssize_t n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL,
                               reinterpret_cast<const sockaddr *>(&addr), len);
    if (n < 0) return config::unexpected(std::string("sendto: ") + std::strerror(errno));
    if (static_cast<std::size_t>(n) != state.size())
        return config::unexpected(std::string("sendto: short write"));
    return true;
}

config::Result<bool, std::string> sd_notify(std::string_view state) {
    const char *path = std::getenv("NOTIFY_SOCKET");
    return notify_socket_send(path ? std::string_view(path) : std::string_view(), state);
}

}  // namespace sni::loader
