// Signals as events: SIGCHLD, SIGTERM, SIGINT, SIGHUP and SIGUSR1 are blocked and read from a
// signalfd in the event loop; SIGPIPE is ignored (sockets are written with MSG_NOSIGNAL, but
// stderr may be a closed pipe).
#pragma once

#include <signal.h>

#include <string>

#include "common/config_result.hpp"
#include "common/fd.hpp"

namespace sni::loader {

config::Result<UniqueFd, std::string> open_signalfd();

// Reads one pending signal; 0 when none is pending.
int read_signal(int signal_fd);

// Restores default dispositions and an empty mask: for a child between fork() and exec()
// (async-signal-safe).
void reset_signals_in_child();

}  // namespace sni::loader
