// Test process helpers: a temp dir, and sni-worker started by the test with the test's end of
// a SEQPACKET socketpair as its fd 3. The worker is always ended by its PID.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "tests/support/temp_files.hpp"

namespace sni::wtest {

using namespace std::chrono_literals;

using testsupport::read_file;
using testsupport::write_file;
// Directories named sni-worker-test.XXXXXX.
class TempDir : public testsupport::TempDir {
  public:
    TempDir() : testsupport::TempDir("sni-worker-test.") {}
};

class WorkerProcess {
  public:
    struct Options {
        std::filesystem::path config;
        std::filesystem::path log;  // stdout + stderr of the worker
        std::string pool = "default";
        std::vector<std::string> extra_args;
        // Non-empty: run this program and arguments instead (e.g. sni-splitterd in front of
        // real workers); the channel is its fd 3 all the same.
        std::vector<std::string> command;
    };
    explicit WorkerProcess(Options options);
    ~WorkerProcess();
    WorkerProcess(const WorkerProcess &) = delete;
    WorkerProcess &operator=(const WorkerProcess &) = delete;

    pid_t pid() const { return pid_; }
    int channel() const { return channel_.get(); }
    std::string log() const;

    // Waits until `pred(log)` holds; false on timeout or when the worker exited first.
    bool wait_log(const std::function<bool(const std::string &)> &pred,
                  std::chrono::milliseconds timeout = 10s);
    bool wait_log_contains(const std::string &needle, std::chrono::milliseconds timeout = 10s);
    // Counts occurrences of `needle` in the log.
    std::size_t count_in_log(const std::string &needle) const;

    bool running();
    // SIGTERM, then waits (SIGKILL after `grace`). Returns the wait status, or -1.
    int stop(std::chrono::milliseconds grace = 5s);

  private:
    Options options_;
    pid_t pid_ = -1;
    UniqueFd channel_;
    int status_ = -1;
};

}  // namespace sni::wtest
