// What a test sees of a process it started (its /proc entry), for checks that nothing leaks, and
// the socket and sanitizer settings such checks need.
#pragma once

#include <sys/types.h>

#include <chrono>

namespace sni::testsupport {

using namespace std::chrono_literals;

// Open file descriptors of `pid`; -1 when its /proc entry is gone.
long open_fd_count(pid_t pid);
// VmRSS of `pid` in KiB; -1 when unknown.
long rss_kib(pid_t pid);
// open_fd_count once it has held still for 250 ms (the descriptor of a scrape or a control
// request that was just answered is closed by then).
long quiet_fd_count(pid_t pid);
// Waits until `pid` holds `want` descriptors (or `timeout`); returns the last count seen.
long wait_fd_count(pid_t pid, long want, std::chrono::milliseconds timeout = 15s);

// The next close() of `fd` sends a reset instead of a FIN (SO_LINGER 0). False if it could not
// be set.
bool reset_on_close(int fd);

// Under AddressSanitizer: processes started after this call keep freed blocks in a 4 MiB
// quarantine instead of 256 MiB, which would otherwise show as RSS growth that is not theirs.
// Call before starting them, while this process has one thread. Nothing without ASan.
void small_asan_quarantine_for_children();

}  // namespace sni::testsupport
