#include "harness.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "common/fd.hpp"

namespace sni::itest {

namespace {

// The lowest port the kernel hands out for outgoing connections (net.ipv4.ip_local_port_range).
std::uint16_t ephemeral_low() {
    std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
    unsigned low = 32768;
    in >> low;
    return static_cast<std::uint16_t>(std::clamp(low, 2048U, 65535U));
}

// True if an IPv4 loopback listener could bind `port` now (SO_REUSEADDR, as the daemon does).
bool bindable(std::uint16_t port) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::bind(fd.get(), reinterpret_cast<sockaddr *>(&sin), sizeof sin) == 0;
}

// A lock on `port` that this test process holds until it exits, so that tests running in
// parallel never pick the same port. Invalid if another process holds it.
UniqueFd claim(const std::filesystem::path &dir, std::uint16_t port) {
    UniqueFd fd(::open((dir / std::to_string(port)).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
    if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return UniqueFd();
    return fd;
}

}  // namespace

// The daemon binds these ports after this function returns, so nothing may take them in
// between. They come from below the ephemeral range, which no outgoing connection is given,
// and each is claimed with a lock file held for the life of this process.
std::vector<std::uint16_t> free_ports_from(unsigned start, std::size_t count) {
    static std::mutex mutex;
    static std::vector<UniqueFd> claims;  // held until the test process exits
    const std::lock_guard lock(mutex);

    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / "sni-splitter-test-ports";
    std::filesystem::create_directories(dir);
    std::error_code ignored;  // a directory another user made is shared as it is
    std::filesystem::permissions(
        dir, std::filesystem::perms::all | std::filesystem::perms::sticky_bit, ignored);

    const std::uint16_t high = ephemeral_low();
    const std::uint16_t low = static_cast<std::uint16_t>(high > 21024 ? high - 20000 : 1024);
    const unsigned span = high - low;
    std::vector<std::uint16_t> ports;
    unsigned next = start;
    for (unsigned tried = 0; ports.size() < count; ++tried, next += 7919U) {  // 7919: a prime
        if (tried == span) throw std::runtime_error("no free test port below the ephemeral range");
        const auto port = static_cast<std::uint16_t>(low + next % span);
        UniqueFd held = claim(dir, port);
        if (!held || !bindable(port)) continue;
        claims.push_back(std::move(held));
        ports.push_back(port);
    }
    return ports;
}

std::vector<std::uint16_t> free_ports(std::size_t count) {
    static std::atomic<unsigned> calls{0};  // spreads one process's calls over the range
    return free_ports_from(static_cast<unsigned>(::getpid()) * 131U + calls++ * 17U, count);
}

namespace {

std::vector<char *> c_argv(std::vector<std::string> &storage) {
    std::vector<char *> v;
    for (auto &s : storage) v.push_back(s.data());
    v.push_back(nullptr);
    return v;
}

// In the child, after fork: die with the test process.
void child_common() {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
}

int decode_status(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return -WTERMSIG(status);
    return -1;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string> &argv, const std::string &input,
                          std::chrono::milliseconds timeout,
                          const std::function<bool(const std::string &)> &close_stdin_when) {
    ProcessResult result;
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
        return result;
    std::vector<std::string> storage = argv;
    auto args = c_argv(storage);
    const pid_t pid = ::fork();
    if (pid == 0) {
        child_common();
        ::dup2(in[0], 0);
        ::dup2(out[1], 1);
        ::dup2(err[1], 2);
        ::execvp(args[0], args.data());
        ::_exit(127);
    }
    UniqueFd in_w(in[1]), out_r(out[0]), err_r(err[0]);
    ::close(in[0]);
    ::close(out[1]);
    ::close(err[1]);
    if (pid < 0) return result;
    ::signal(SIGPIPE, SIG_IGN);
    ::fcntl(in_w.get(), F_SETFL, O_NONBLOCK);

    std::size_t written = 0;
    const auto deadline = Clock::now() + timeout;
    while (out_r || err_r) {
        if (in_w && written == input.size() && (!close_stdin_when || close_stdin_when(result.out)))
            in_w.reset();
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        if (left.count() <= 0) {
            result.timed_out = true;
            break;
        }
        pollfd pfd[3];
        int n = 0;
        if (out_r) pfd[n++] = {out_r.get(), POLLIN, 0};
        if (err_r) pfd[n++] = {err_r.get(), POLLIN, 0};
        if (in_w && written < input.size()) pfd[n++] = {in_w.get(), POLLOUT, 0};
        const int waited = std::min<long>(left.count(), 50);
        if (::poll(pfd, static_cast<nfds_t>(n), waited) < 0 && errno != EINTR) break;
        for (int i = 0; i < n; ++i) {
            if (pfd[i].revents == 0) continue;
            if (in_w && pfd[i].fd == in_w.get()) {
                const ssize_t w =
                    ::write(in_w.get(), input.data() + written, input.size() - written);
                if (w > 0)
                    written += static_cast<std::size_t>(w);
                else if (w < 0 && errno != EAGAIN)
                    in_w.reset();
                continue;
            }
            char buf[8192];
            const ssize_t r = ::read(pfd[i].fd, buf, sizeof buf);
            UniqueFd &which = pfd[i].fd == out_r.get() ? out_r : err_r;
            std::string &dest = pfd[i].fd == out_r.get() ? result.out : result.err;
            if (r > 0)
                dest.append(buf, static_cast<std::size_t>(r));
            else if (r == 0 || errno != EAGAIN)
                which.reset();
        }
    }
    int status = 0;
    if (result.timed_out) {
        ::kill(pid, SIGKILL);
        ::waitpid(pid, &status, 0);
        result.exit_code = -1;
        return result;
    }
    // Both pipes are closed: the process is (nearly) gone.
    const auto wait_deadline = Clock::now() + 5s;
    while (::waitpid(pid, &status, WNOHANG) == 0) {
        if (Clock::now() > wait_deadline) {
            ::kill(pid, SIGKILL);
            ::waitpid(pid, &status, 0);
            result.timed_out = true;
            return result;
        }
        std::this_thread::sleep_for(5ms);
    }
    result.exit_code = decode_status(status);
    return result;
}

void make_certificate(const std::filesystem::path &dir, const std::string &stem,
                      const std::vector<std::string> &names) {
    std::string san = "subjectAltName=";
    for (std::size_t i = 0; i < names.size(); ++i) san += (i ? ",DNS:" : "DNS:") + names[i];
    const auto r = run_process(
        {"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "2", "-subj", "/CN=" + names.front(), "-addext", san, "-keyout",
         (dir / (stem + ".key")).string(), "-out", (dir / (stem + ".crt")).string()},
        "", 20s);
    if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
}

DaemonProcess::DaemonProcess(Options options) : options_(std::move(options)) {
    std::vector<std::string> storage = {
        SNI_SPLITTERD_BIN,   "--config",     options_.config_path, "--worker-bin",
        SNI_TEST_WORKER_BIN, "--classifier", options_.classifier};
    storage.insert(storage.end(), options_.extra_args.begin(), options_.extra_args.end());
    auto args = c_argv(storage);
    const int log_fd =
        ::open(options_.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    const auto fd_limit = options_.fd_limit;
    pid_ = ::fork();
    if (pid_ == 0) {
        child_common();
        ::dup2(null_fd, 0);
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
        if (fd_limit) {
            rlimit rl{*fd_limit, *fd_limit};
            ::setrlimit(RLIMIT_NOFILE, &rl);
        }
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    ::close(log_fd);
    ::close(null_fd);
}

DaemonProcess::~DaemonProcess() {
    if (pid_ > 0 && !status_) stop(3s);
}

bool DaemonProcess::running() {
    if (pid_ <= 0 || status_) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        status_ = status;
        return false;
    }
    return true;
}

bool DaemonProcess::wait_log(const std::function<bool(const std::string &)> &pred,
                             std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (pred(log())) return true;
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
}

bool DaemonProcess::wait_ready(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
        if (log().find("msg=\"ready\"") != std::string::npos) return true;
        if (!running() || Clock::now() > deadline) return false;
        std::this_thread::sleep_for(10ms);
    }
}

int DaemonProcess::stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return -1;
    if (!status_) {
        ::kill(pid_, SIGTERM);
        const auto deadline = Clock::now() + grace;
        int status = 0;
        for (;;) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                status_ = status;
                break;
            }
            if (Clock::now() > deadline) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
                status_ = status;
                return -1000;
            }
            std::this_thread::sleep_for(10ms);
        }
    }
    return decode_status(*status_);
}

std::string DaemonProcess::log() const {
    return read_file(options_.log_path);
}

std::vector<pid_t> DaemonProcess::children() const {
    // /proc/<pid>/task/<pid>/children needs CONFIG_PROC_CHILDREN: scan every process' parent.
    std::vector<pid_t> out;
    std::error_code ec;
    for (const auto &entry : std::filesystem::directory_iterator("/proc", ec)) {
        const std::string name = entry.path().filename().string();
        if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
        const std::string stat = read_file(entry.path() / "stat");
        const auto close = stat.rfind(')');
        if (close == std::string::npos || close + 4 > stat.size()) continue;
        std::istringstream rest(stat.substr(close + 2));
        std::string state;
        pid_t ppid = 0;
        rest >> state >> ppid;
        if (ppid == pid_ && state != "Z") out.push_back(static_cast<pid_t>(std::stol(name)));
    }
    return out;
}

std::size_t count_of(const std::string &hay, const std::string &needle) {
    std::size_t n = 0;
    for (auto pos = hay.find(needle); pos != std::string::npos; pos = hay.find(needle, pos + 1))
        ++n;
    return n;
}

}  // namespace sni::itest
