#include "tests/support/process_probe.hpp"

#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace sni::testsupport {

long open_fd_count(pid_t pid) {
    std::error_code ec;
    long n = 0;
    for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end;
         !ec && it != end; it.increment(ec))
        ++n;
    return ec ? -1 : n;
}

long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
    return -1;
}

long quiet_fd_count(pid_t pid) {
    long n = open_fd_count(pid);
    for (int same = 0, i = 0; same < 5 && i < 200; ++i) {
        std::this_thread::sleep_for(50ms);
        const long m = open_fd_count(pid);
        same = m == n ? same + 1 : 0;
        n = m;
    }
    return n;
}

long wait_fd_count(pid_t pid, long want, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    long n = open_fd_count(pid);
    while (n != want && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(20ms);
        n = open_fd_count(pid);
    }
    return n;
}

bool reset_on_close(int fd) {
    const linger lg{1, 0};
    return ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0;
}

void small_asan_quarantine_for_children() {
#if defined(__SANITIZE_ADDRESS__)
    const char *prev = std::getenv("ASAN_OPTIONS");
    const std::string asan =
        std::string(prev ? prev : "") + (prev && *prev ? ":" : "") + "quarantine_size_mb=4";
    ::setenv("ASAN_OPTIONS", asan.c_str(), 1);
#endif
}

}  // namespace sni::testsupport
