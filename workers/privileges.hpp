// Dropping root after the keys are loaded: setgroups (the user's primary group only), setgid,
// setuid, then a check that root cannot be regained. The parent-death signal, which the kernel
// clears on a credential change, is set again.
#pragma once

#include <string>

#include "common/config_result.hpp"

namespace sni::worker {

struct DropResult {
    unsigned uid = 0;
    unsigned gid = 0;
};

config::Result<DropResult, std::string> drop_privileges(const std::string &user);

}  // namespace sni::worker
