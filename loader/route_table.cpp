#include "loader/route_table.hpp"

#include "common/config_query.hpp"

namespace sni::loader {

RouteTable::RouteTable(const config::Config &config) {
    tables_.reserve(config.listeners.size());
    defaults_.reserve(config.listeners.size());
    for (const auto &listener : config.listeners) {
        tables_.push_back(config::server_name_table(config, listener.name));
        std::optional<RouteId> def;
        if (!listener.default_route.empty()) {
            for (std::size_t i = 0; i < config.routes.size(); ++i) {
                if (config.routes[i].name == listener.default_route) {
                    def = static_cast<RouteId>(i);
                    break;
                }
            }
        }
        defaults_.push_back(def);
    }
}

std::optional<RouteId> RouteTable::lookup(std::uint32_t listener_id,
                                          std::string_view server_name) const {
    if (listener_id >= tables_.size() || server_name.empty()) return std::nullopt;
    return tables_[listener_id].lookup(server_name);
}

std::optional<RouteId> RouteTable::default_route(std::uint32_t listener_id) const {
    if (listener_id >= defaults_.size()) return std::nullopt;
    return defaults_[listener_id];
}

std::vector<SteeringRoute> RouteTable::steering_routes() const {
    std::vector<SteeringRoute> out;
    for (std::uint32_t id = 0; id < tables_.size(); ++id) {
        for (const auto &[name, route] : tables_[id].exact_names())
            out.push_back(SteeringRoute{id, name, route});
        for (const auto &[suffix, route] : tables_[id].wildcard_suffixes())
            out.push_back(SteeringRoute{id, "*." + suffix, route});
    }
    return out;
}

}  // namespace sni::loader
