// sni-ctl's side of the control protocol: one request, one answer, over the daemon's Unix
// socket. Connection failures are mapped to the exit codes scripts rely on.
#pragma once

#include <string>

#include "common/control_protocol.hpp"

namespace sni::ctl {

// Exit codes (documented in docs/operations.md).
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;     // the daemon answered with an error
inline constexpr int kExitUsage = 2;       // bad command line
inline constexpr int kExitNotRunning = 3;  // no daemon on the socket (ENOENT, ECONNREFUSED)
inline constexpr int kExitPermission = 4;  // EACCES/EPERM, or the daemon said forbidden

struct Outcome {
    int exit_code = kExitOk;
    control::Response response;  // when the daemon answered
    std::string message;         // when it did not (or it refused), for stderr
};

Outcome call(const std::string &socket_path, const control::Request &request);

}  // namespace sni::ctl
