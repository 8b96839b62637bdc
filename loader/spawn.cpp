#include "loader/spawn.hpp"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>

#include "common/fd.hpp"
#include "loader/signals.hpp"

extern char **environ;

namespace sni::loader {

config::Result<pid_t, std::string> spawn_worker(const SpawnSpec &spec, int channel_fd) {
    // Everything the child needs is prepared before fork(): after it, only async-signal-safe
    // calls.
    if (spec.inherit.size() > kMaxInherited)
        return config::unexpected("cannot pass " + std::to_string(spec.inherit.size()) +
                                  " fds to a worker (at most " + std::to_string(kMaxInherited) +
                                  ")");
    // Our variables replace any of the same name in the daemon's environment.
    std::vector<std::string> ours = spec.env;
    ours.push_back("SNI_HANDOFF_FD=" + std::to_string(kHandoffFd));
    auto overridden = [&](const char *e) {
        for (const auto &mine : ours)
            if (std::strncmp(e, mine.c_str(), mine.find('=') + 1) == 0) return true;
        return false;
    };
    std::vector<std::string> env_storage;
    for (char **e = environ; e != nullptr && *e != nullptr; ++e)
        if (!overridden(*e)) env_storage.emplace_back(*e);
    env_storage.insert(env_storage.end(), ours.begin(), ours.end());
    std::vector<char *> envp;
    for (auto &s : env_storage) envp.push_back(s.data());
    envp.push_back(nullptr);

    std::vector<std::string> argv_storage;
    argv_storage.push_back(spec.binary);
    argv_storage.insert(argv_storage.end(), spec.args.begin(), spec.args.end());
    std::vector<char *> argv;
    for (auto &s : argv_storage) argv.push_back(s.data());
    argv.push_back(nullptr);

    int pipefd[2];
    if (::pipe2(pipefd, O_CLOEXEC) != 0)
        return config::unexpected(std::string("pipe2: ") + std::strerror(errno));
    UniqueFd status_read(pipefd[0]);
    UniqueFd status_write(pipefd[1]);

    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) return config::unexpected(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
        reset_signals_in_child();
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(127);  // the daemon died before prctl
        int err = 0;
        if (channel_fd == kHandoffFd) {
            const int flags = ::fcntl(kHandoffFd, F_GETFD);
            if (flags < 0 || ::fcntl(kHandoffFd, F_SETFD, flags & ~FD_CLOEXEC) != 0) err = errno;
        } else if (::dup2(channel_fd, kHandoffFd) < 0) {
            err = errno;
        }
        // Inherited fds: first moved out of the way (a source may sit on a target number), then
        // placed; dup2 leaves the copies without FD_CLOEXEC.
        std::array<int, kMaxInherited> moved{};
        const std::size_t n_inherit = spec.inherit.size();
        for (std::size_t i = 0; err == 0 && i < n_inherit; ++i) {
            moved[i] = ::fcntl(spec.inherit[i], F_DUPFD_CLOEXEC, 64);
            if (moved[i] < 0) err = errno;
        }
        for (std::size_t i = 0; err == 0 && i < n_inherit; ++i)
            if (::dup2(moved[i], kFirstInheritedFd + static_cast<int>(i)) < 0) err = errno;
        if (err == 0) {
            ::execve(argv[0], argv.data(), envp.data());
            err = errno;
        }
        ssize_t ignored = ::write(status_write.get(), &err, sizeof err);
        (void)ignored;
        ::_exit(127);
    }

    status_write.reset();
    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(status_read.get(), &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        // exec failed: the child is exiting; reap it here so nobody mistakes it for a worker.
        while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
        }
        return config::unexpected("cannot start " + spec.binary + ": " +
                                  std::strerror(child_errno));
    }
    return pid;
}

}  // namespace sni::loader
