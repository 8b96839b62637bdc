// Starting one worker process: fork + exec of the worker binary with the worker's end of its
// handoff channel as fd 3 (env SNI_HANDOFF_FD=3) and args `--pool NAME --config FILE`. The child
// gets SIGTERM if the daemon dies (PR_SET_PDEATHSIG). An exec failure is reported back to the
// parent through a close-on-exec pipe, so "no such worker binary" is an error here, not a
// mysterious exit later.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include <string>
#include <vector>

#include "common/config_result.hpp"

namespace sni::loader {

inline constexpr int kHandoffFd = 3;
// The first fd number of SpawnSpec::inherit in the child (then 5, 6...).
inline constexpr int kFirstInheritedFd = 4;
inline constexpr std::size_t kMaxInherited = 8;

struct SpawnSpec {
    std::string binary;
    std::vector<std::string> args;  // without argv[0]
    // fds the child gets as 4, 5, ... (in this order, at most kMaxInherited), e.g. the kernel
    // relay's BPF maps;
    // `env` is added to the child's environment (e.g. "SNI_RELAY_FDS=4,5").
    std::vector<int> inherit;
    std::vector<std::string> env;
};

// `channel_fd` becomes the child's fd 3. Returns the child's pid.
config::Result<pid_t, std::string> spawn_worker(const SpawnSpec &spec, int channel_fd);

}  // namespace sni::loader
