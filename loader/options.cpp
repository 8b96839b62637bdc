#include "loader/options.hpp"

#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/config_enums.hpp"

namespace sni::loader {

std::string usage() {
    return "usage: sni-splitterd --config FILE [--check] [--worker-bin PATH]\n"
           "                     [--classifier auto|bpf|userspace] [--log-level "
           "debug|info|warn|error]\n"
           "                     [--drain-timeout SECONDS] [--keep-capabilities] [--watch]\n"
           "       sni-splitterd --version\n"
           "\n"
           "  --config FILE       the YAML configuration\n"
           "  --check             validate the configuration, print its errors, exit 0 or 1\n"
           "  --worker-bin PATH   worker executable (default: sni-worker next to this binary)\n"
           "  --classifier MODE   overrides the configuration's `classifier`\n"
           "  --log-level LEVEL   minimum level logged to stderr (default: info)\n"
           "  --drain-timeout S   SIGTERM/reload: seconds workers get to finish their\n"
           "                      connections before they are stopped (default 30; may be\n"
           "                      fractional, e.g. 0.5)\n"
           "  --keep-capabilities do not drop capabilities after start-up (debugging)\n"
           "  --watch             reload by itself when the configuration file or a file it\n"
           "                      names (certificates, keys, CAs) changes (Kubernetes mounts)\n";
}

config::Result<Options, std::string> parse_options(std::span<const char *const> args) {
    Options o;
    auto fail = [](std::string msg) { return config::unexpected(std::move(msg)); };
    for (std::size_t i = 1; i < args.size(); ++i) {
        std::string_view a = args[i];
        std::string_view value;
        bool has_inline = false;
        if (a.starts_with("--") && a.find('=') != std::string_view::npos) {
            const auto eq = a.find('=');
            value = a.substr(eq + 1);
            a = a.substr(0, eq);
            has_inline = true;
        }
        auto take = [&]() -> std::optional<std::string_view> {
            if (has_inline) return value;
            if (i + 1 >= args.size()) return std::nullopt;
            return std::string_view(args[++i]);
        };
        if (a == "--check") {
            o.check = true;
        } else if (a == "--version") {
            o.version = true;
        } else if (a == "--help" || a == "-h") {
            o.help = true;
        } else if (a == "--config" || a == "-c") {
            auto v = take();
            if (!v || v->empty()) return fail("--config needs a file");
            o.config_path = std::string(*v);
        } else if (a == "--worker-bin") {
            auto v = take();
            if (!v || v->empty()) return fail("--worker-bin needs a path");
            o.worker_bin = std::string(*v);
        } else if (a == "--classifier") {
            auto v = take();
            if (!v) return fail("--classifier needs auto, bpf or userspace");
            auto c = config::enum_from_name<config::Classifier>(config::kClassifierNames, *v);
            if (!c)
                return fail("--classifier: \"" + std::string(*v) +
                            "\" is not auto, bpf or userspace");
            o.classifier = *c;
        } else if (a == "--drain-timeout") {
            auto v = take();
            double seconds = -1;
            if (v) {
                try {
                    std::size_t used = 0;
                    seconds = std::stod(std::string(*v), &used);
                    if (used != v->size()) seconds = -1;
                } catch (...) {
                    seconds = -1;
                }
            }
            if (seconds < 0 || seconds > 86400)
                return fail("--drain-timeout needs a number of seconds (0..86400)");
            o.drain_timeout = std::chrono::milliseconds(static_cast<long long>(seconds * 1000));
        } else if (a == "--keep-capabilities") {
            o.keep_capabilities = true;
        } else if (a == "--watch") {
            o.watch = true;
        } else if (a == "--log-level") {
            auto v = take();
            auto level = v ? log::parse_level(*v) : std::nullopt;
            if (!level) return fail("--log-level needs debug, info, warn or error");
            o.log_level = *level;
        } else {
            return fail("unknown argument \"" + log::escape(args[i]) + "\"");
        }
    }
    if (!o.version && !o.help && o.config_path.empty()) return fail("--config FILE is required");
    return o;
}

std::string default_worker_bin() {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return "sni-worker";
    return (self.parent_path() / "sni-worker").string();
}

}  // namespace sni::loader
