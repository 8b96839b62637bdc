// Routes: server names, client-side TLS, backend (servers, backend TLS, health check).
#include <arpa/inet.h>

#include <array>

#include "common/config_parse.hpp"
#include "common/config_suggest.hpp"
#include "common/server_names.hpp"

namespace sni::config {
namespace {

namespace fs = std::filesystem;

std::string quote(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

bool read_path(Diagnostics &d, const Field &f, const fs::path &base_dir, std::string &out) {
    std::string text;
    if (!read_string(d, f, text)) return false;
    fs::path path(text);
    if (path.is_relative()) path = base_dir / path;
    out = path.lexically_normal().string();
    return true;
}

ValueResult<std::string> parse_server_name_pattern(std::string_view text) {
    if (is_wildcard_pattern(text)) {
        if (auto wildcard = normalize_wildcard(text)) return std::move(*wildcard);
        if (text.starts_with("*.") && !is_wildcard_pattern(text.substr(2))) {
            const ServerNameProblem problem = check_server_name(text.substr(2));
            return unexpected(quote(text) + " is not a valid wildcard: " +
                              (problem == ServerNameProblem::kOk
                                   ? std::string("the name is longer than 253 characters")
                                   : std::string(describe(problem))));
        }
        return unexpected(quote(text) +
                          " is not a valid wildcard: \"*\" is only allowed as the whole first "
                          "label, followed by a name, as in \"*.example.com\"");
    }
    if (auto name = normalize_server_name(text)) return std::move(*name);
    return unexpected(quote(text) + " is not a valid server name: " +
                      std::string(describe(check_server_name(text))));
}

// A name sent as SNI or checked in a certificate: a DNS name, never a wildcard.
ValueResult<std::string> parse_host_name(std::string_view text) {
    if (auto name = normalize_server_name(text)) return std::move(*name);
    return unexpected(quote(text) + " is not a valid host name: " +
                      std::string(describe(check_server_name(text))));
}

ValueResult<std::string> parse_backend_sni(std::string_view text) {
    auto name = parse_host_name(text);
    if (!name) return name;
    std::array<unsigned char, 4> ip{};
    if (inet_pton(AF_INET, name->c_str(), ip.data()) == 1)
        return unexpected(quote(text) +
                          " is an IP address; SNI can only carry host names (RFC 6066)");
    return name;
}

bool read_tls_version(Diagnostics &d, const Field &f, TlsVersion &out) {
    return read_parsed(d, f, "a TLS version (\"1.0\" .. \"1.3\")", parse_tls_version, out);
}

bool read_security_level(Diagnostics &d, const Field &f, std::optional<int> &out) {
    std::uint32_t level = 0;
    if (!read_uint(d, f, 0, 5, level)) return false;
    out = static_cast<int>(level);
    return true;
}

std::vector<std::string> read_alpn_list(Diagnostics &d, const Field &f) {
    std::vector<std::string> out;
    for (const Field &item : read_list(d, f, false)) {
        std::string protocol;
        if (read_parsed(d, item, "an ALPN protocol id", parse_alpn_protocol, protocol))
            out.push_back(std::move(protocol));
    }
    return out;
}

CertificateFiles parse_certificate(Diagnostics &d, const Field &f, const fs::path &base_dir,
                                   bool allow_ocsp) {
    CertificateFiles files;
    MapReader m =
        allow_ocsp ? MapReader(d, f, {"cert", "key", "ocsp"}) : MapReader(d, f, {"cert", "key"});
    if (!m.ok()) return files;
    if (auto v = m.required("cert")) read_path(d, *v, base_dir, files.cert);
    if (auto v = m.required("key")) read_path(d, *v, base_dir, files.key);
    if (auto v = m.optional("ocsp")) read_path(d, *v, base_dir, files.ocsp);
    return files;
}

ClientTls parse_client_tls(Diagnostics &d, const Field &f, const fs::path &base_dir) {
    ClientTls tls;
    MapReader m(d, f,
                {"certificates", "min_version", "max_version", "security_level", "ciphers",
                 "ciphersuites", "alpn", "session_tickets"});
    if (!m.ok()) return tls;
    if (auto v = m.required("certificates"))
        for (const Field &item : read_list(d, *v, false))
            tls.certificates.push_back(parse_certificate(d, item, base_dir, true));
    if (auto v = m.optional("min_version")) read_tls_version(d, *v, tls.min_version);
    if (auto v = m.optional("max_version")) read_tls_version(d, *v, tls.max_version);
    if (auto v = m.optional("security_level")) read_security_level(d, *v, tls.security_level);
    if (auto v = m.optional("ciphers")) read_string(d, *v, tls.ciphers);
    if (auto v = m.optional("ciphersuites")) read_string(d, *v, tls.ciphersuites);
    if (auto v = m.optional("alpn")) tls.alpn = read_alpn_list(d, *v);
    if (auto v = m.optional("session_tickets")) read_bool(d, *v, tls.session_tickets);
    return tls;
}

BackendVerify parse_verify(Diagnostics &d, const Field &f, const fs::path &base_dir) {
    BackendVerify verify;
    if (f.node.IsScalar()) {
        constexpr std::array<std::string_view, 2> kChoices{"none", "required"};
        const std::string &text = f.node.Scalar();
        if (text == "none")
            verify.enabled = false;
        else if (text != "required")
            d.error(f.path, quote(text) +
                                " is not \"none\", \"required\" or a mapping {ca, name, "
                                "pin_sha256, cache}" +
                                (text.empty() ? "" : did_you_mean(text, kChoices)));
        return verify;
    }
    MapReader m(d, f, {"ca", "name", "pin_sha256", "cache"});
    if (!m.ok()) return verify;
    if (auto v = m.optional("ca")) read_path(d, *v, base_dir, verify.ca);
    if (auto v = m.optional("name"))
        read_parsed(d, *v, "a host name", parse_host_name, verify.name);
    if (auto v = m.optional("pin_sha256")) {
        std::vector<Field> items;
        if (v->node.IsSequence())
            items = read_list(d, *v, false);
        else
            items.push_back(*v);
        for (const Field &item : items) {
            std::string pin;
            if (read_parsed(d, item, "a hex SHA-256 digest", parse_sha256_hex, pin))
                verify.pin_sha256.push_back(std::move(pin));
        }
    }
    if (auto v = m.optional("cache")) read_bool(d, *v, verify.cache);
    return verify;
}

BackendServer parse_server(Diagnostics &d, const Field &f) {
    BackendServer server;
    auto parse = [](std::string_view s) { return parse_socket_address(s, AddressUse::kConnect); };
    const std::string_view what = "an address (e.g. \"10.0.0.10:443\") or {address, weight}";
    if (!f.node.IsMap()) {
        read_parsed(d, f, what, parse, server.address);
        return server;
    }
    MapReader m(d, f, {"address", "weight"});
    if (auto v = m.required("address")) read_parsed(d, *v, what, parse, server.address);
    if (auto v = m.optional("weight")) read_uint(d, *v, 1, 256, server.weight);
    return server;
}

HealthCheck parse_health_check(Diagnostics &d, const Field &f) {
    HealthCheck check;
    MapReader m(d, f, {"type", "interval", "timeout", "rise", "fall"});
    if (!m.ok()) return check;
    if (auto v = m.optional("type")) read_enum(d, *v, kHealthCheckTypeNames, check.type);
    if (auto v = m.optional("interval")) read_duration(d, *v, check.interval);
    if (auto v = m.optional("timeout")) read_duration(d, *v, check.timeout);
    if (auto v = m.optional("rise")) read_uint(d, *v, 1, 100, check.rise);
    if (auto v = m.optional("fall")) read_uint(d, *v, 1, 100, check.fall);
    return check;
}

void parse_backend_alpn(Diagnostics &d, const Field &f, BackendTls &tls) {
    if (f.node.IsSequence()) {
        tls.alpn_mode = BackendAlpn::kList;
        tls.alpn = read_alpn_list(d, f);
        return;
    }
    constexpr std::array<std::string_view, 2> kChoices{"forward", "none"};
    auto text = read_scalar(d, f, "\"forward\", \"none\" or a list of protocols");
    if (!text) return;
    if (*text == "forward") {
        tls.alpn_mode = BackendAlpn::kForward;
    } else if (*text == "none") {
        tls.alpn_mode = BackendAlpn::kList;
        tls.alpn.clear();
    } else {
        d.error(f.path, quote(*text) +
                            " is not \"forward\", \"none\" or a list of protocols (write a single "
                            "protocol as a list: [\"h2\"])" +
                            did_you_mean(*text, kChoices));
    }
}

// Reads the backend; the backend-TLS keys go to `tls` (kept only for mode reencrypt).
Backend parse_backend(Diagnostics &d, const Field &f, const fs::path &base_dir, BackendTls &tls) {
    Backend backend;
    MapReader m(d, f,
                {"servers", "balance", "connect_timeout", "proxy_protocol", "health_check", "sni",
                 "min_version", "max_version", "security_level", "ciphers", "ciphersuites",
                 "verify", "client_certificate", "alpn", "session_reuse"});
    if (!m.ok()) return backend;
    if (auto v = m.required("servers"))
        for (const Field &item : read_list(d, *v, false))
            backend.servers.push_back(parse_server(d, item));
    if (auto v = m.optional("balance")) read_enum(d, *v, kBalanceNames, backend.balance);
    if (auto v = m.optional("connect_timeout")) read_duration(d, *v, backend.connect_timeout);
    if (auto v = m.optional("proxy_protocol"))
        read_enum(d, *v, kProxyProtocolNames, backend.proxy_protocol);
    if (auto v = m.optional("health_check")) backend.health_check = parse_health_check(d, *v);

    if (auto v = m.optional("sni")) {
        if (v->node.IsScalar() && v->node.Scalar() == "$client") {
            tls.sni_mode = BackendSni::kClient;
        } else if (read_parsed(d, *v, "a host name or \"$client\"", parse_backend_sni, tls.sni)) {
            tls.sni_mode = BackendSni::kFixed;
        }
    }
    if (auto v = m.optional("min_version")) read_tls_version(d, *v, tls.min_version);
    if (auto v = m.optional("max_version")) read_tls_version(d, *v, tls.max_version);
    if (auto v = m.optional("security_level")) read_security_level(d, *v, tls.security_level);
    if (auto v = m.optional("ciphers")) read_string(d, *v, tls.ciphers);
    if (auto v = m.optional("ciphersuites")) read_string(d, *v, tls.ciphersuites);
    if (auto v = m.optional("verify")) tls.verify = parse_verify(d, *v, base_dir);
    if (auto v = m.optional("client_certificate"))
        tls.client_certificate = parse_certificate(d, *v, base_dir, false);
    if (auto v = m.optional("alpn")) parse_backend_alpn(d, *v, tls);
    if (auto v = m.optional("session_reuse")) read_bool(d, *v, tls.session_reuse);
    return backend;
}

}  // namespace

Route parse_route(Diagnostics &d, const Field &f, const fs::path &base_dir) {
    Route route;
    MapReader m(
        d, f,
        {"name", "listener", "server_names", "mode", "pool", "tls", "backend", "idle_timeout"});
    if (!m.ok()) return route;
    if (auto v = m.required("name")) read_parsed(d, *v, "a name", parse_object_name, route.name);
    if (auto v = m.required("listener"))
        read_parsed(d, *v, "a listener name", parse_object_name, route.listener);
    if (auto v = m.optional("server_names")) {
        for (const Field &item : read_list(d, *v, true)) {
            std::string pattern;
            if (read_parsed(d, item, "a server name", parse_server_name_pattern, pattern))
                route.server_names.push_back(std::move(pattern));
        }
    }
    if (auto v = m.required("mode")) read_enum(d, *v, kRouteModeNames, route.mode);
    if (auto v = m.optional("pool"))
        read_parsed(d, *v, "a pool name", parse_object_name, route.pool);
    if (auto v = m.optional("tls")) route.tls = parse_client_tls(d, *v, base_dir);
    BackendTls backend_tls;
    if (auto v = m.required("backend")) route.backend = parse_backend(d, *v, base_dir, backend_tls);
    if (auto v = m.optional("idle_timeout")) read_duration(d, *v, route.idle_timeout);

    // Keep the model's invariants: client TLS exactly for reencrypt/terminate, backend TLS
    // exactly for reencrypt. Keys given for the wrong mode are reported by the validator.
    if (route.mode == RouteMode::kPassthrough) route.tls.reset();
    if (route.mode == RouteMode::kReencrypt) route.backend.tls = std::move(backend_tls);
    return route;
}

}  // namespace sni::config
