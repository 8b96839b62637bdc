#include "common/config_query.hpp"

#include <sched.h>

#include <thread>

namespace sni::config {
namespace {

template <typename T>
const T *find_by_name(const std::vector<T> &items, std::string_view name) {
    for (const T &item : items)
        if (item.name == name) return &item;
    return nullptr;
}

}  // namespace

const Listener *find_listener(const Config &config, std::string_view name) {
    return find_by_name(config.listeners, name);
}

const Route *find_route(const Config &config, std::string_view name) {
    return find_by_name(config.routes, name);
}

const Pool *find_pool(const Config &config, std::string_view name) {
    return find_by_name(config.pools, name);
}

ServerNameTable server_name_table(const Config &config, std::string_view listener) {
    ServerNameTable table;
    for (std::size_t i = 0; i < config.routes.size(); ++i) {
        const Route &route = config.routes[i];
        if (route.listener != listener) continue;
        for (const std::string &name : route.server_names)
            (void)table.add(name, static_cast<RouteId>(i));
    }
    return table;
}

unsigned effective_workers(const Pool &pool) {
    if (pool.workers > 0) return pool.workers;
    // The CPUs this process may run on (respects taskset/cgroup cpusets), else all online.
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return static_cast<unsigned>(CPU_COUNT(&set));
    const unsigned cpus = std::thread::hardware_concurrency();
    return cpus > 0 ? cpus : 1;
}

}  // namespace sni::config
