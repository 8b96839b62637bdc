// The sd_notify client: datagrams reach a path socket and an abstract one, bad addresses fail.
#include "loader/sd_notify.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>

#include "common/fd.hpp"

namespace sni::loader {
namespace {

// A bound SOCK_DGRAM Unix socket; `name` starting with '@' is abstract.
UniqueFd bind_dgram(const std::string &name) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name.data(), name.size());
    if (name[0] == '@') addr.sun_path[0] = '\0';
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<const sockaddr *>(&addr), len), 0)
        << std::strerror(errno);
    return fd;
}

std::string receive(int fd) {
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    return n < 0 ? std::string("<nothing>") : std::string(buf, static_cast<std::size_t>(n));
}

TEST(SdNotify, SendsToAPathSocket) {
    const std::string path = "/tmp/sni-notify-test-" + std::to_string(::getpid());
    ::unlink(path.c_str());
    UniqueFd fd = bind_dgram(path);
    ASSERT_TRUE(notify_socket_send(path, "READY=1\nSTATUS=serving"));
    EXPECT_EQ(receive(fd.get()), "READY=1\nSTATUS=serving");
    ::unlink(path.c_str());
}

TEST(SdNotify, SendsToAnAbstractSocket) {
    const std::string name = "@sni-notify-test-" + std::to_string(::getpid());
    UniqueFd fd = bind_dgram(name);
    ASSERT_TRUE(notify_socket_send(name, "STOPPING=1"));
    EXPECT_EQ(receive(fd.get()), "STOPPING=1");
}

TEST(SdNotify, NoSocketIsANoOp) {
    EXPECT_TRUE(notify_socket_send("", "READY=1"));
}

TEST(SdNotify, BadAddressesFail) {
    EXPECT_FALSE(notify_socket_send("relative/path", "READY=1"));
    EXPECT_FALSE(notify_socket_send("/nonexistent-dir/sni-notify", "READY=1"));
    EXPECT_FALSE(notify_socket_send("/" + std::string(200, 'x'), "READY=1"));
}

}  // namespace
}  // namespace sni::loader
