// The routing view of the config for the classifiers: per listener, server name -> route id
// (the shared ServerNameTable rules), plus the listener's default route. The same data feeds the
// BPF route map (steering_routes), so both classifiers decide from one source.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "common/config_types.hpp"
#include "common/server_names.hpp"
#include "loader/kernel_steering.hpp"

namespace sni::loader {

class RouteTable {
  public:
    // `config` must be validated (every reference resolves). Listener ids are indexes in
    // config.listeners, route ids indexes in config.routes.
    explicit RouteTable(const config::Config &config);

    std::size_t listener_count() const { return tables_.size(); }

    // The route serving `server_name` on this listener (exact beats wildcard).
    std::optional<RouteId> lookup(std::uint32_t listener_id, std::string_view server_name) const;

    // The listener's default_route, if it has one.
    std::optional<RouteId> default_route(std::uint32_t listener_id) const;

    // Every (listener, pattern, route) for KernelSteering::set_routes: exact names as "a.b",
    // wildcards as "*.a.b".
    std::vector<SteeringRoute> steering_routes() const;

  private:
    std::vector<ServerNameTable> tables_;
    std::vector<std::optional<RouteId>> defaults_;
};

}  // namespace sni::loader
