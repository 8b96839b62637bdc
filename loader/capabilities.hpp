// Dropping root's powers once the daemon is set up (BPF loaded and attached, listeners and the
// control socket bound, first workers started). What stays, and why:
//   CAP_SETUID, CAP_SETGID   workers (re)started later run as root until they switch to their
//                            pool's user: the capabilities they need come from our bounding set
//   CAP_DAC_READ_SEARCH      workers started later read their pool's key files (and the daemon the
//                            configuration on reload) as root, whoever owns the files
//   CAP_KILL                 signalling workers that run as another user (drain, stop)
//   CAP_NET_BIND_SERVICE     kept for listeners on low ports bound by a later restart path
//   CAP_BPF                  BPF classifier only: map operations (release, route table swap)
//                            with kernel.unprivileged_bpf_disabled set
// Everything else leaves the effective, permitted, inheritable, ambient and bounding sets, and
// PR_SET_NO_NEW_PRIVS is set (workers are exec'd as root and keep working: setuid/setgid are
// not execve privilege gains).
#pragma once

#include <string>
#include <vector>

#include "common/config_result.hpp"

namespace sni::loader {

// The capability numbers the daemon keeps (see above).
std::vector<int> capabilities_to_keep(bool bpf_classifier);

// Applies the drop, keeping those of `wanted` the process still holds; returns what it kept.
// A no-op (nothing kept) when the process is not root.
config::Result<std::vector<int>, std::string> drop_capabilities(const std::vector<int> &wanted);

// "cap_kill,cap_setuid" for logs.
std::string capability_names(const std::vector<int> &caps);

}  // namespace sni::loader
