// Command line of sni-splitterd.
#pragma once

#include <chrono>
#include <optional>
#include <span>
#include <string>

#include "common/config_result.hpp"
#include "common/config_types.hpp"
#include "common/log.hpp"

namespace sni::loader {

struct Options {
    std::string config_path;
    bool check = false;    // validate the config and exit 0/1
    bool version = false;  // print the version and exit
    bool help = false;
    std::string worker_bin;                        // "" = sni-worker next to this binary
    std::optional<config::Classifier> classifier;  // overrides the config's `classifier`
    log::Level log_level = log::Level::kInfo;
    // SIGTERM and reload: how long workers may finish their connections (default 30 s).
    std::chrono::milliseconds drain_timeout = std::chrono::seconds(30);
    bool keep_capabilities = false;  // --keep-capabilities: no drop (debugging only)
    bool watch = false;              // --watch: reload when the config or its files change
};

config::Result<Options, std::string> parse_options(std::span<const char *const> args);

std::string usage();

// sni-worker in the directory of /proc/self/exe ("sni-worker" when that cannot be read).
std::string default_worker_bin();

}  // namespace sni::loader
