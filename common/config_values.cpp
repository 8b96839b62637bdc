#include "common/config_values.hpp"

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <cstring>
#include <optional>
#include <span>

#include "common/config_enums.hpp"
#include "common/server_names.hpp"

namespace sni::config {
namespace {

std::string quote(std::string_view text) {
    return "\"" + std::string(text) + "\"";
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// Leading decimal digits of `text`, at most 10 of them so that scaling cannot overflow.
struct Number {
    std::uint64_t value = 0;
    std::size_t length = 0;
    bool too_long = false;
};
Number leading_number(std::string_view text) {
    Number n;
    while (n.length < text.size() && is_digit(text[n.length])) ++n.length;
    if (n.length > 10) {
        n.too_long = true;
        return n;
    }
    std::from_chars(text.data(), text.data() + n.length, n.value);
    return n;
}

struct Unit {
    std::string_view name;
    std::uint64_t scale;
};
constexpr std::array<Unit, 4> kDurationUnits{
    {{"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}}};
constexpr std::array<Unit, 4> kSizeUnits{{{"", 1}, {"B", 1}, {"KiB", 1024}, {"MiB", 1024 * 1024}}};

const Unit *find_unit(std::span<const Unit> units, std::string_view name) {
    for (const auto &unit : units)
        if (unit.name == name) return &unit;
    return nullptr;
}

std::string_view trim_spaces(std::string_view s) {
    while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
    return s;
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
    if (text.empty() || text.size() > 5) return std::nullopt;
    for (char c : text)
        if (!is_digit(c)) return std::nullopt;
    unsigned value = 0;
    std::from_chars(text.data(), text.data() + text.size(), value);
    if (value < 1 || value > 65535) return std::nullopt;
    return static_cast<std::uint16_t>(value);
}

std::optional<std::string> canonical_ip(int family, const std::string &text) {
    std::array<unsigned char, 16> bytes{};
    if (inet_pton(family, text.c_str(), bytes.data()) != 1) return std::nullopt;
    std::array<char, INET6_ADDRSTRLEN> out{};
    if (!inet_ntop(family, bytes.data(), out.data(), out.size())) return std::nullopt;
    return std::string(out.data());
}

bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

}  // namespace

ValueResult<Duration> parse_duration(std::string_view text) {
    const std::string hint =
        " (write a whole number followed by ms, s, m or h, e.g. \"250ms\", "
        "\"5s\", \"2m\")";
    Number n = leading_number(text);
    if (n.length == 0) return unexpected(quote(text) + " is not a duration" + hint);
    if (n.too_long) return unexpected(quote(text) + " is too large for a duration");
    std::string_view unit_text = text.substr(n.length);
    if (unit_text.starts_with('.'))
        return unexpected(quote(text) +
                          " is not a duration: fractions are not supported, use a smaller unit "
                          "(e.g. \"1500ms\" rather than \"1.5s\")");
    if (unit_text.empty()) return unexpected(quote(text) + " has no unit" + hint);
    const Unit *unit = find_unit(kDurationUnits, unit_text);
    if (!unit)
        return unexpected(quote(text) + " is not a duration: unknown unit " + quote(unit_text) +
                          hint);
    return Duration(static_cast<Duration::rep>(n.value * unit->scale));
}

ValueResult<std::uint64_t> parse_size(std::string_view text) {
    const std::string hint =
        " (write a whole number of bytes, optionally followed by B, KiB or MiB, e.g. \"16KiB\")";
    Number n = leading_number(text);
    if (n.length == 0) return unexpected(quote(text) + " is not a size" + hint);
    if (n.too_long) return unexpected(quote(text) + " is too large for a size");
    std::string_view unit_text = trim_spaces(text.substr(n.length));
    if (unit_text.starts_with('.'))
        return unexpected(quote(text) + " is not a size: fractions are not supported" + hint);
    const Unit *unit = find_unit(kSizeUnits, unit_text);
    if (!unit)
        return unexpected(quote(text) + " is not a size: unknown unit " + quote(unit_text) + hint);
    return n.value * unit->scale;
}

ValueResult<TlsVersion> parse_tls_version(std::string_view text) {
    if (auto v = enum_from_name<TlsVersion>(kTlsVersionNames, text)) return *v;
    return unexpected(quote(text) +
                      " is not a TLS version (expected \"1.0\", \"1.1\", \"1.2\" or \"1.3\")");
}

ValueResult<SocketAddress> parse_socket_address(std::string_view text, AddressUse use) {
    const std::string example = use == AddressUse::kBind      ? "\"0.0.0.0:443\" or \"eth0:443\""
                                : use == AddressUse::kConnect ? "\"10.0.0.10:443\""
                                                              : "\"127.0.0.1:9490\"";
    std::string_view host;
    std::string_view port_text;
    bool bracketed = false;
    if (text.starts_with('[')) {
        auto close = text.find(']');
        if (close == std::string_view::npos)
            return unexpected(quote(text) + " is not a valid address: missing ']'");
        host = text.substr(1, close - 1);
        if (close + 1 >= text.size() || text[close + 1] != ':')
            return unexpected(quote(text) + " has no port (expected [address]:port, e.g. " +
                              "\"[::1]:443\")");
        port_text = text.substr(close + 2);
        bracketed = true;
    } else {
        auto colon = text.rfind(':');
        if (colon == std::string_view::npos)
            return unexpected(quote(text) + " has no port (expected host:port, e.g. " + example +
                              ")");
        host = text.substr(0, colon);
        port_text = text.substr(colon + 1);
        if (host.find(':') != std::string_view::npos)
            return unexpected(quote(text) +
                              ": IPv6 addresses must be written in brackets, e.g. \"[::1]:443\"");
    }
    auto port = parse_port(port_text);
    if (!port)
        return unexpected(quote(text) + ": " + quote(port_text) +
                          " is not a valid port (expected 1..65535)");
    if (host.empty()) return unexpected(quote(text) + " has no host (e.g. " + example + ")");

    const std::string host_str(host);
    if (bracketed) {
        auto ip = canonical_ip(AF_INET6, host_str);
        if (!ip) return unexpected(quote(text) + ": " + quote(host) + " is not an IPv6 address");
        return SocketAddress{AddressKind::kIpv6, *ip, *port};
    }
    if (auto ip = canonical_ip(AF_INET, host_str))
        return SocketAddress{AddressKind::kIpv4, *ip, *port};
    switch (use) {
        case AddressUse::kBind:
            if (!is_valid_interface_name(host))
                return unexpected(quote(text) + ": " + quote(host) +
                                  " is neither an IP address nor a network interface name "
                                  "(interface names have 1..15 characters, without '/' or spaces)");
            return SocketAddress{AddressKind::kInterface, host_str, *port};
        case AddressUse::kConnect: {
            auto name = normalize_server_name(host);
            if (!name)
                return unexpected(quote(text) + ": " + quote(host) +
                                  " is neither an IP address nor a valid host name (" +
                                  std::string(describe(check_server_name(host))) + ")");
            return SocketAddress{AddressKind::kHostname, *name, *port};
        }
        case AddressUse::kListen:
            break;
    }
    return unexpected(quote(text) + ": " + quote(host) + " is not an IP address");
}

std::string to_string(const SocketAddress &address) {
    if (address.kind == AddressKind::kIpv6)
        return "[" + address.host + "]:" + std::to_string(address.port);
    return address.host + ":" + std::to_string(address.port);
}

ValueResult<std::string> parse_sha256_hex(std::string_view text) {
    std::string hex;
    for (char c : text) {
        if (c == ':') continue;
        if (!is_hex(c))
            return unexpected(quote(text) + " is not a hex SHA-256 digest (unexpected character " +
                              quote(std::string_view(&c, 1)) + ")");
        hex += (c >= 'A' && c <= 'F') ? static_cast<char>(c - 'A' + 'a') : c;
    }
    if (hex.size() != 64)
        return unexpected(quote(text) +
                          " is not a hex SHA-256 digest (expected 64 hex digits, got " +
                          std::to_string(hex.size()) + ")");
    return hex;
}

ValueResult<std::string> parse_object_name(std::string_view text) {
    if (text.empty() || text.size() > 64)
        return unexpected(quote(text) + " is not a valid name (use 1..64 characters)");
    for (char c : text) {
        bool ok = is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  c == '-' || c == '.';
        if (!ok)
            return unexpected(quote(text) +
                              " is not a valid name (use letters, digits, '_', '-' and '.')");
    }
    return std::string(text);
}

ValueResult<std::string> parse_alpn_protocol(std::string_view text) {
    if (text.empty() || text.size() > 255)
        return unexpected(quote(text) + " is not a valid ALPN protocol id (use 1..255 characters)");
    for (char c : text)
        if (c <= ' ' || c > '~')
            return unexpected(quote(text) +
                              " is not a valid ALPN protocol id (use printable ASCII without "
                              "spaces, e.g. \"h2\" or \"http/1.1\")");
    return std::string(text);
}

bool is_valid_interface_name(std::string_view name) {
    if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
    for (char c : name)
        if (c == '/' || c == ':' || c <= ' ' || c > '~') return false;
    return true;
}

}  // namespace sni::config
