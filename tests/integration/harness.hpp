// Test harness: temp dirs, child processes (always ended by PID), the daemon under test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/temp_files.hpp"

namespace sni::itest {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using testsupport::read_binary;
using testsupport::read_file;
using testsupport::write_file;
// Directories named sni-itest-XXXXXX.
class TempDir : public testsupport::TempDir {
  public:
    TempDir() : testsupport::TempDir("sni-itest-") {}
};

// `count` distinct TCP ports on 127.0.0.1 for a daemon to bind later: below the ephemeral
// range (no outgoing connection takes them meanwhile), bindable now, and locked for the life of
// this test process so that parallel tests never share one.
std::vector<std::uint16_t> free_ports(std::size_t count);
// The same, walking the range from `start` (free_ports starts from the process id).
std::vector<std::uint16_t> free_ports_from(unsigned start, std::size_t count);

struct ProcessResult {
    int exit_code = -1;  // -1 when killed or not started
    bool timed_out = false;
    std::string out;
    std::string err;
};

// Runs argv, feeds `input` on stdin, collects stdout/stderr. Stdin is closed once `input` is
// written and `close_stdin_when(out)` returns true (default: immediately). After `timeout` the
// process is killed (SIGKILL, by its PID).
ProcessResult run_process(const std::vector<std::string> &argv, const std::string &input,
                          std::chrono::milliseconds timeout,
                          const std::function<bool(const std::string &)> &close_stdin_when = {});

// A self-signed certificate for `names` (the first is the CN), key P-256; files <stem>.crt/.key.
void make_certificate(const std::filesystem::path &dir, const std::string &stem,
                      const std::vector<std::string> &names);

// sni-splitterd started by the test: stdout+stderr go to `log_path`. Stopped by PID (SIGTERM,
// then SIGKILL after a grace period) at the latest in the destructor.
class DaemonProcess {
  public:
    struct Options {
        std::string config_path;
        std::string classifier;  // "userspace" | "bpf" | "auto"
        std::filesystem::path log_path;
        std::optional<unsigned> fd_limit;  // RLIMIT_NOFILE (soft and hard) for the daemon
        std::vector<std::string> extra_args;
    };
    explicit DaemonProcess(Options options);
    ~DaemonProcess();
    DaemonProcess(const DaemonProcess &) = delete;
    DaemonProcess &operator=(const DaemonProcess &) = delete;

    pid_t pid() const { return pid_; }
    bool running();

    // Waits for the "ready" log line. False (and the log says why) when the daemon exited or
    // did not get ready in time.
    bool wait_ready(std::chrono::milliseconds timeout = 10s);

    // Waits until `pred(log)` holds.
    bool wait_log(const std::function<bool(const std::string &)> &pred,
                  std::chrono::milliseconds timeout);

    // SIGTERM; returns the exit code (or -signal), or -1000 when it had to be killed.
    int stop(std::chrono::milliseconds grace = 5s);

    std::string log() const;

    // PIDs of the daemon's child processes (its workers).
    std::vector<pid_t> children() const;

  private:
    Options options_;
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// Counts occurrences of `needle` in `hay`.
std::size_t count_of(const std::string &hay, const std::string &needle);

}  // namespace sni::itest
