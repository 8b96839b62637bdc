// Read-only helpers over a loaded Config, for the daemon, workers and ctl.
#pragma once

#include <string_view>

#include "common/config_types.hpp"
#include "common/server_names.hpp"

namespace sni::config {

// nullptr when there is no such name.
const Listener *find_listener(const Config &config, std::string_view name);
const Route *find_route(const Config &config, std::string_view name);
const Pool *find_pool(const Config &config, std::string_view name);

// The route table of one listener: server name -> RouteId (the route's index in
// config.routes). On a validated Config every add succeeds.
ServerNameTable server_name_table(const Config &config, std::string_view listener);

// pool.workers, with 0 ("auto") resolved to the number of CPUs this process may run on.
unsigned effective_workers(const Pool &pool);

}  // namespace sni::config
