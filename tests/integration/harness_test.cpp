// The harness's own promises that the other integration tests rely on.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "harness.hpp"

namespace sni::itest {
namespace {

TEST(HarnessPorts, ComeFromBelowTheEphemeralRange) {
    std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned ephemeral_low = 0;
    range >> ephemeral_low;
    ASSERT_GT(ephemeral_low, 0U);
    const auto ports = free_ports(8);
    ASSERT_EQ(ports.size(), 8U);
    for (const auto port : ports) {
        EXPECT_LT(port, ephemeral_low);
        EXPECT_GE(port, 1024);
    }
    auto sorted = ports;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end()) << "a port twice";
}

// Another test process running at the same time never gets a port this one holds.
TEST(HarnessPorts, AreNotSharedWithAParallelTestProcess) {
    constexpr unsigned kStart = 4242;
    const auto mine = free_ports_from(kStart, 16);
    int fds[2];
    ASSERT_EQ(::pipe(fds), 0);
    const pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
        ::close(fds[0]);
        // The same walk: without the lock files it would return `mine` first.
        const auto theirs = free_ports_from(kStart, 64);
        const auto n = static_cast<ssize_t>(theirs.size() * sizeof theirs[0]);
        ::_exit(::write(fds[1], theirs.data(), static_cast<std::size_t>(n)) == n ? 0 : 1);
    }
    ::close(fds[1]);
    std::vector<std::uint16_t> theirs(64);
    std::size_t got = 0;
    const auto want = theirs.size() * sizeof theirs[0];
    while (got < want) {
        const ssize_t n = ::read(fds[0], reinterpret_cast<char *>(theirs.data()) + got, want - got);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    ::close(fds[0]);
    int status = 0;
    ::waitpid(child, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ASSERT_EQ(got, want);
    for (const auto port : theirs)
        EXPECT_EQ(std::find(mine.begin(), mine.end(), port), mine.end()) << port << " shared";
}

}  // namespace
}  // namespace sni::itest
