// Command line of sni-worker:
//   sni-worker --pool NAME --config FILE [--user NAME] [--log-level debug|info|warn|error]
// The handoff channel is fd $SNI_HANDOFF_FD (default 3).
#pragma once

#include <optional>
#include <string>

#include "common/config_result.hpp"
#include "common/log.hpp"

namespace sni::worker {

struct Options {
    std::string pool = "default";
    std::string config;
    std::string user;  // "" = keep the current user
    log::Level log_level = log::Level::kInfo;
    int channel_fd = 3;
};

inline constexpr const char *kUsage =
    "usage: sni-worker --pool NAME --config FILE [--user NAME] [--log-level LEVEL]\n"
    "  the handoff channel is fd $SNI_HANDOFF_FD (default 3)\n";

// `env_fd`: the value of SNI_HANDOFF_FD, or nullptr.
config::Result<Options, std::string> parse_options(int argc, char **argv, const char *env_fd);

}  // namespace sni::worker
