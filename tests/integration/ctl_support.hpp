// Running sni-ctl against the daemon under test.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "harness.hpp"

namespace sni::itest {

// Runs `sni-ctl --socket SOCKET ARGS...` (30 s limit).
ProcessResult run_ctl(const std::string &socket, const std::vector<std::string> &args);

// Same with --json; the parsed stdout (null JSON when it is not JSON).
nlohmann::json ctl_json(const std::string &socket, const std::vector<std::string> &args,
                        int *exit_code = nullptr);

}  // namespace sni::itest
