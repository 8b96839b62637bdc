#include "loader/signals.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sni::loader {

namespace {
constexpr int kHandled[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGUSR1};
}

config::Result<UniqueFd, std::string> open_signalfd() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : kHandled) sigaddset(&set, s);
    if (::sigprocmask(SIG_BLOCK, &set, nullptr) != 0)
        return config::unexpected(std::string("sigprocmask: ") + std::strerror(errno));
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, nullptr);
    const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) return config::unexpected(std::string("signalfd: ") + std::strerror(errno));
    return UniqueFd(fd);
}

int read_signal(int signal_fd) {
    signalfd_siginfo info;
    for (;;) {
        const ssize_t n = ::read(signal_fd, &info, sizeof info);
        if (n == static_cast<ssize_t>(sizeof info)) return static_cast<int>(info.ssi_signo);
        if (n < 0 && errno == EINTR) continue;
        return 0;
    }
}

void reset_signals_in_child() {
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    ::sigaction(SIGPIPE, &dfl, nullptr);
    sigset_t empty;
    sigemptyset(&empty);
    ::sigprocmask(SIG_SETMASK, &empty, nullptr);
}

}  // namespace sni::loader
