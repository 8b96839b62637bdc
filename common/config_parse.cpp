// Top level, listeners, pools and the small global sections. Routes: config_parse_route.cpp.
#include "common/config_parse.hpp"

#include <charconv>
#include <system_error>

namespace sni::config {
namespace {

constexpr std::uint64_t kMinClientHello = 512;
constexpr std::uint64_t kMaxClientHello = 64 * 1024;  // hard cap of the ClientHello parser
constexpr std::uint32_t kMaxWorkers = 256;
constexpr std::size_t kMaxUnixSocketPath = 107;  // sizeof(sockaddr_un::sun_path) - 1

bool read_name(Diagnostics &d, const Field &f, std::string &out) {
    return read_parsed(d, f, "a name", parse_object_name, out);
}

bool read_absolute_path(Diagnostics &d, const Field &f, std::string &out) {
    std::string text;
    if (!read_string(d, f, text)) return false;
    if (!text.starts_with('/')) {
        d.error(f.path, "\"" + text + "\" must be an absolute path");
        return false;
    }
    out = std::move(text);
    return true;
}

Listener parse_listener(Diagnostics &d, const Field &f) {
    Listener l;
    MapReader m(d, f,
                {"name", "bind", "require_sni", "unknown_sni", "default_route",
                 "client_hello_timeout", "max_client_hello"});
    if (!m.ok()) return l;
    if (auto v = m.required("name")) read_name(d, *v, l.name);
    if (auto v = m.required("bind")) {
        for (const Field &item : read_list(d, *v, false)) {
            SocketAddress address;
            auto parse = [](std::string_view s) {
                return parse_socket_address(s, AddressUse::kBind);
            };
            if (read_parsed(d, item, "an address (e.g. \"0.0.0.0:443\")", parse, address))
                l.bind.push_back(std::move(address));
        }
    }
    if (auto v = m.optional("require_sni")) read_bool(d, *v, l.require_sni);
    if (auto v = m.optional("default_route")) read_name(d, *v, l.default_route);
    l.unknown_sni = l.default_route.empty() ? UnknownSni::kReject : UnknownSni::kDefault;
    if (auto v = m.optional("unknown_sni")) read_enum(d, *v, kUnknownSniNames, l.unknown_sni);
    if (auto v = m.optional("client_hello_timeout")) read_duration(d, *v, l.client_hello_timeout);
    if (auto v = m.optional("max_client_hello"))
        read_size(d, *v, kMinClientHello, kMaxClientHello, l.max_client_hello);
    return l;
}

Pool parse_pool(Diagnostics &d, const Field &f) {
    Pool p;
    MapReader m(d, f, {"name", "workers", "user"});
    if (!m.ok()) return p;
    if (auto v = m.required("name")) read_name(d, *v, p.name);
    if (auto v = m.optional("workers")) {
        auto parse = [](std::string_view s) -> ValueResult<std::uint32_t> {
            if (s == "auto") return 0u;
            std::uint32_t n = 0;
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
            if (ec == std::errc() && end == s.data() + s.size() && n >= 1 && n <= kMaxWorkers)
                return n;
            return unexpected("\"" + std::string(s) +
                              "\" is not \"auto\" or a whole number in the range 1.." +
                              std::to_string(kMaxWorkers));
        };
        read_parsed(d, *v, "\"auto\" or a number of workers", parse, p.workers);
    }
    if (auto v = m.optional("user")) read_string(d, *v, p.user);
    return p;
}

Control parse_control(Diagnostics &d, const Field &f) {
    Control c;
    MapReader m(d, f, {"socket"});
    if (!m.ok()) return c;
    if (auto v = m.optional("socket"); v && read_absolute_path(d, *v, c.socket)) {
        if (c.socket.size() > kMaxUnixSocketPath)
            d.error(v->path, "the path is longer than " + std::to_string(kMaxUnixSocketPath) +
                                 " bytes, the limit for a Unix socket");
    }
    return c;
}

Metrics parse_metrics(Diagnostics &d, const Field &f) {
    Metrics metrics;
    MapReader m(d, f, {"listen"});
    if (!m.ok()) return metrics;
    if (auto v = m.required("listen")) {
        SocketAddress address;
        auto parse = [](std::string_view s) {
            return parse_socket_address(s, AddressUse::kListen);
        };
        if (read_parsed(d, *v, "an address (e.g. \"127.0.0.1:9490\")", parse, address))
            metrics.listen = std::move(address);
    }
    return metrics;
}

AccessLog parse_access_log(Diagnostics &d, const Field &f) {
    AccessLog log;
    MapReader m(d, f, {"path"});
    if (!m.ok()) return log;
    auto v = m.required("path");
    std::string text;
    if (!v || !read_string(d, *v, text)) return log;
    if (text == "stderr") {
        log.target = AccessLogTarget::kStderr;
    } else if (text == "off") {
        log.target = AccessLogTarget::kOff;
    } else if (text.starts_with('/')) {
        log.target = AccessLogTarget::kFile;
        log.path = std::move(text);
    } else {
        d.error(v->path, "\"" + text + "\" is not \"stderr\", \"off\" or an absolute file path");
    }
    return log;
}

template <typename T, typename ParseItem>
std::vector<T> parse_sections(Diagnostics &d, const Field &list, ParseItem &&parse_item) {
    std::vector<T> out;
    for (const Field &item : read_list(d, list, false)) out.push_back(parse_item(item));
    return out;
}

}  // namespace

Config parse_config(Diagnostics &d, const YAML::Node &root, const std::filesystem::path &base_dir) {
    Config config;
    const SourceLocation start = location_of(root);
    d.record("", start.line > 0 ? start : SourceLocation{1, 1});
    if (!root.IsDefined() || root.IsNull()) {
        d.error("", "the configuration is empty (expected at least \"listeners\" and \"routes\")");
        return config;
    }
    MapReader m(d, Field{root, ""},
                {"listeners", "routes", "pools", "control", "metrics", "access_log", "classifier",
                 "passthrough_relay"});
    if (!m.ok()) return config;

    if (auto v = m.required("listeners"))
        config.listeners =
            parse_sections<Listener>(d, *v, [&](const Field &f) { return parse_listener(d, f); });
    if (auto v = m.required("routes"))
        config.routes = parse_sections<Route>(
            d, *v, [&](const Field &f) { return parse_route(d, f, base_dir); });
    if (auto v = m.optional("pools"))
        config.pools =
            parse_sections<Pool>(d, *v, [&](const Field &f) { return parse_pool(d, f); });
    else
        config.pools.push_back(Pool{.name = "default"});
    if (auto v = m.optional("control")) config.control = parse_control(d, *v);
    if (auto v = m.optional("metrics")) config.metrics = parse_metrics(d, *v);
    if (auto v = m.optional("access_log")) config.access_log = parse_access_log(d, *v);
    if (auto v = m.optional("classifier")) read_enum(d, *v, kClassifierNames, config.classifier);
    if (auto v = m.optional("passthrough_relay"))
        read_enum(d, *v, kPassthroughRelayNames, config.passthrough_relay);
    return config;
}

}  // namespace sni::config
