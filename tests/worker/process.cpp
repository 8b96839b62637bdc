#include "tests/worker/process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/handoff.hpp"

namespace sni::wtest {

WorkerProcess::WorkerProcess(Options options) : options_(std::move(options)) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        throw std::runtime_error("socketpair failed");
    handoff::configure_channel(sv[0]);
    handoff::configure_channel(sv[1]);
    channel_.reset(sv[0]);
    UniqueFd worker_end(sv[1]);
    UniqueFd log_fd(::open(options_.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644));

    // Everything the child needs is prepared before fork (the test process has threads).
    std::vector<std::string> args = {SNI_WORKER_BIN, "--pool", options_.pool, "--config",
                                     options_.config.string()};
    args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
    if (!options_.command.empty()) args = options_.command;
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (char **e = environ; *e != nullptr; ++e)
        if (std::string_view(*e).rfind("SNI_HANDOFF_FD=", 0) != 0) env_storage.emplace_back(*e);
    env_storage.emplace_back("SNI_HANDOFF_FD=3");
    std::vector<char *> envp;
    for (auto &e : env_storage) envp.push_back(e.data());
    envp.push_back(nullptr);
    const pid_t parent = ::getpid();

    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        const int w = worker_end.get();
        if (w == 3) {
            ::fcntl(3, F_SETFD, 0);
        } else {
            ::dup2(w, 3);
        }
        ::dup2(log_fd.get(), 1);
        ::dup2(log_fd.get(), 2);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
}

WorkerProcess::~WorkerProcess() {
    stop();
}

std::string WorkerProcess::log() const {
    return read_file(options_.log);
}

bool WorkerProcess::running() {
    if (pid_ <= 0) return false;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        status_ = status;
        pid_ = -1;
        return false;
    }
    return true;
}

bool WorkerProcess::wait_log(const std::function<bool(const std::string &)> &pred,
                             std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (pred(log())) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        if (!running()) return pred(log());
        std::this_thread::sleep_for(10ms);
    }
}

bool WorkerProcess::wait_log_contains(const std::string &needle,
                                      std::chrono::milliseconds timeout) {
    return wait_log([&](const std::string &l) { return l.find(needle) != std::string::npos; },
                    timeout);
}

std::size_t WorkerProcess::count_in_log(const std::string &needle) const {
    const std::string l = log();
    std::size_t n = 0;
    for (std::size_t pos = l.find(needle); pos != std::string::npos;
         pos = l.find(needle, pos + needle.size()))
        ++n;
    return n;
}

int WorkerProcess::stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGTERM);
    const auto deadline = std::chrono::steady_clock::now() + grace;
    for (;;) {
        int status = 0;
        const pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            status_ = status;
            break;
        }
        if (std::chrono::steady_clock::now() >= deadline) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, &status, 0);
            status_ = -1;
            break;
        }
        std::this_thread::sleep_for(5ms);
    }
    pid_ = -1;
    return status_;
}

}  // namespace sni::wtest
