// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram to the Unix
// socket named by $NOTIFY_SOCKET ("/path" or "@abstract"). The daemon sends READY=1 once its
// listeners are bound and its workers started, RELOADING=1 / READY=1 around a reload and
// STOPPING=1 when it starts to drain. Outside systemd ($NOTIFY_SOCKET unset) it does nothing.
#pragma once

#include <string>
#include <string_view>

#include "common/config_result.hpp"

namespace sni::loader {

// Sends `state` (e.g. "READY=1\nSTATUS=serving") to `socket_path`. An empty path is a no-op
// that succeeds. Returns the reason on failure.
config::Result<bool, std::string> notify_socket_send(std::string_view socket_path,
                                                     std::string_view state);

// The same, to $NOTIFY_SOCKET of this process.
config::Result<bool, std::string> sd_notify(std::string_view state);

}  // namespace sni::loader
