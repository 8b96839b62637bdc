// Type=notify: the daemon tells systemd READY=1 once it serves and STOPPING=1 when it stops.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "harness.hpp"

namespace sni::itest {
namespace {

// Sets an environment variable for the lifetime of the object (the daemon inherits it).
class ScopedEnv {
  public:
    ScopedEnv(const char *name, const std::string &value) : name_(name) {
        ::setenv(name, value.c_str(), 1);
    }
    ~ScopedEnv() { ::unsetenv(name_); }
    ScopedEnv(const ScopedEnv &) = delete;
    ScopedEnv &operator=(const ScopedEnv &) = delete;

  private:
    const char *name_;
};

std::string receive(int fd, std::chrono::milliseconds timeout) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "<timeout>";
    char buf[512];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    return n < 0 ? "<error>" : std::string(buf, static_cast<std::size_t>(n));
}

TEST(SystemdNotify, ReadyAfterListenersThenStopping) {
    TempDir dir;
    const auto port = free_ports(1)[0];
    write_file(dir.path() / "c.yaml",
               "listeners: [{name: main, bind: [\"127.0.0.1:" + std::to_string(port) +
                   "\"]}]\n"
                   "routes: [{name: pt, listener: main, server_names: [p.test], mode: "
                   "passthrough, backend: {servers: [\"127.0.0.1:9\"]}}]\n"
                   "pools: [{name: default, workers: 1}]\n");
    const std::string sock = (dir.path() / "notify.sock").string();
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, sock.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr *>(&addr), sizeof addr), 0);

    std::string ready;
    int code = -1;
    std::string stopping;
    {
        ScopedEnv env("NOTIFY_SOCKET", sock);
        DaemonProcess d(
            {(dir.path() / "c.yaml").string(), "userspace", dir.path() / "d.log", {}, {}});
        ready = receive(fd, 10s);
        // READY=1 means the listener accepts connections now.
        const int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in in{};
        in.sin_family = AF_INET;
        in.sin_port = htons(port);
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        EXPECT_EQ(::connect(c, reinterpret_cast<const sockaddr *>(&in), sizeof in), 0)
            << std::strerror(errno);
        ::close(c);
        code = d.stop();
        stopping = receive(fd, 5s);
        EXPECT_EQ(code, 0) << d.log();
    }
    ::close(fd);
    EXPECT_EQ(ready, "READY=1\nSTATUS=serving");
    EXPECT_EQ(stopping.rfind("STOPPING=1", 0), 0u) << stopping;
}

}  // namespace
}  // namespace sni::itest
