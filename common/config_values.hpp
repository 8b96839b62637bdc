// Parsing of the scalar value syntaxes used in the config file (durations, sizes, addresses,
// TLS versions, ...). Pure functions of a string: no YAML, no filesystem. Errors are complete
// plain-words sentences that quote the offending text.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/config_result.hpp"
#include "common/config_types.hpp"

namespace sni::config {

template <typename T>
using ValueResult = Result<T, std::string>;

// "250ms", "5s", "2m", "1h". A unit is required; "0s" parses (callers check ranges).
ValueResult<Duration> parse_duration(std::string_view text);

// "512", "512B", "16KiB", "1MiB" (1 KiB = 1024 bytes). A plain integer is bytes.
ValueResult<std::uint64_t> parse_size(std::string_view text);

// "1.0", "1.1", "1.2", "1.3".
ValueResult<TlsVersion> parse_tls_version(std::string_view text);

// Which kinds of host an address may name.
enum class AddressUse : std::uint8_t {
    kBind,     // IP literal or network interface name ("eth0:443")
    kConnect,  // IP literal or DNS host name
    kListen,   // IP literal only
};

// "10.0.0.1:443", "[::1]:443", "eth0:443", "backend.internal:443". Port 1..65535. IPv6
// literals must be bracketed. IP literals are stored in canonical form, names lowercased.
ValueResult<SocketAddress> parse_socket_address(std::string_view text, AddressUse use);

// "10.0.0.1:443", "[::1]:443", "eth0:443".
std::string to_string(const SocketAddress &address);

// 64 hex digits, optionally separated by ':'; returned lowercase without separators.
ValueResult<std::string> parse_sha256_hex(std::string_view text);

// Names of listeners, routes and pools: 1..64 of [A-Za-z0-9_.-] (they appear in metrics labels
// and ctl output).
ValueResult<std::string> parse_object_name(std::string_view text);

// An ALPN protocol id: 1..255 printable ASCII characters without spaces.
ValueResult<std::string> parse_alpn_protocol(std::string_view text);

// A network interface name: 1..15 characters, no '/', ':' or whitespace.
bool is_valid_interface_name(std::string_view name);

}  // namespace sni::config
