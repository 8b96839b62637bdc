// sni-ctl's human-readable output of each command's answer (--json prints the data as is).
#pragma once

#include <string>

#include "common/control_protocol.hpp"

namespace sni::ctl {

std::string render_human(const std::string &command, const control::Json &data);

}  // namespace sni::ctl
