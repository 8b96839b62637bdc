// Interface binds: addresses come from rtnetlink, and the monitor reports changes. The veth
// interface lives in a network namespace of its own (created by a child process with
// unshare(CLONE_NEWNET), so it disappears with the child). Needs root (CAP_NET_ADMIN,
// CAP_SYS_ADMIN).
#include "loader/interface_addresses.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

namespace sni::loader {
namespace {

TEST(InterfaceAddresses, LoopbackHasItsAddresses) {
    const auto addrs = interface_addresses("lo");
    ASSERT_TRUE(addrs) << addrs.error();
    ASSERT_FALSE(addrs->empty());
    EXPECT_EQ(addrs->front().family, AF_INET) << "IPv4 first";
    bool v4 = false;
    for (const auto &a : *addrs) v4 |= a.text == "127.0.0.1";
    EXPECT_TRUE(v4);
}

TEST(InterfaceAddresses, UnknownInterfaceIsAClearError) {
    const auto addrs = interface_addresses("nosuchif0");
    ASSERT_FALSE(addrs);
    EXPECT_NE(addrs.error().find("no interface named \"nosuchif0\""), std::string::npos)
        << addrs.error();
}

// Runs `body` in a child process inside a fresh network namespace; its return value is the
// failure text ("" = success).
std::string in_new_netns(std::string (*body)()) {
    int p[2];
    if (::pipe(p) != 0) return "pipe failed";
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::close(p[0]);
        std::string err = ::unshare(CLONE_NEWNET) == 0 ? body() : "unshare(CLONE_NEWNET) failed";
        if (::write(p[1], err.data(), err.size()) < 0) ::_exit(3);
        ::_exit(err.empty() ? 0 : 1);
    }
    ::close(p[1]);
    std::string out;
    char buf[512];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
    ::close(p[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (!WIFEXITED(status)) return "child crashed";
    return WEXITSTATUS(status) == 0 ? "" : (out.empty() ? "child failed" : out);
}

std::string veth_scenario() {
    if (std::system("ip link add d0 type veth peer name d1 && ip link set d1 up && ip link set d0 up && "
                    "ip addr add 10.77.0.1/24 dev d0 && "
                    "ip -6 addr add fd77::1/64 dev d0 nodad") != 0)
        return "ip setup failed";
    auto addrs = interface_addresses("d0");
    if (!addrs) return "resolve: " + addrs.error();
    if (addrs->size() < 2)
        return "expected an IPv4 and an IPv6 address, got " + std::to_string(addrs->size());
    if ((*addrs)[0].text != "10.77.0.1") return "first address " + (*addrs)[0].text;
    bool v6 = false;
    for (const auto &a : *addrs) v6 |= (a.family == AF_INET6 && a.text == "fd77::1");
    if (!v6) return "fd77::1 missing";

    auto mon = AddressMonitor::create();
    if (!mon) return "monitor: " + mon.error();
    if ((*mon)->drain()) return "monitor reported a change before any";
    if (std::system("ip addr add 10.77.0.2/24 dev d0") != 0) return "ip addr add failed";
    pollfd pfd{(*mon)->fd(), POLLIN, 0};
    if (::poll(&pfd, 1, 2000) != 1) return "no notification for a new address";
    if (!(*mon)->drain()) return "drain saw nothing";
    addrs = interface_addresses("d0");
    if (!addrs) return "re-resolve: " + addrs.error();
    bool second = false;
    for (const auto &a : *addrs) second |= a.text == "10.77.0.2";
    if (!second) return "10.77.0.2 missing after the change";
    return "";
}

TEST(InterfaceAddresses, VethInANamespaceAndItsChanges) {
    ASSERT_EQ(::geteuid(), 0u) << "needs root: network namespaces";
    EXPECT_EQ(in_new_netns(veth_scenario), "");
}

}  // namespace
}  // namespace sni::loader
