#include "workers/options.hpp"

#include <charconv>
#include <cstring>
#include <string_view>

namespace sni::worker {

config::Result<Options, std::string> parse_options(int argc, char **argv, const char *env_fd) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (i + 1 >= argc) return config::unexpected("missing value after " + std::string(a));
        const std::string v = argv[++i];
        if (a == "--pool") {
            o.pool = v;
        } else if (a == "--config") {
            o.config = v;
        } else if (a == "--user") {
            o.user = v;
        } else if (a == "--log-level") {
            const auto level = log::parse_level(v);
            if (!level) return config::unexpected("unknown log level \"" + v + "\"");
            o.log_level = *level;
        } else {
            return config::unexpected("unknown argument \"" + std::string(a) + "\"");
        }
    }
    if (o.config.empty()) return config::unexpected(std::string("--config is required"));
    if (env_fd != nullptr) {
        const std::string_view s = env_fd;
        int fd = -1;
        const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), fd);
        if (ec != std::errc() || p != s.data() + s.size() || fd < 0)
            return config::unexpected("bad SNI_HANDOFF_FD \"" + std::string(s) + "\"");
        o.channel_fd = fd;
    }
    return o;
}

}  // namespace sni::worker
