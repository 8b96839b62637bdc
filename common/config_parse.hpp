// YAML document -> Config model. Reports structural, type and per-value errors (unknown keys,
// wrong types, bad durations/sizes/enums/addresses/server names, missing required keys);
// cross-field checks live in config_validate.hpp. Always returns a model; it is only
// meaningful when no error was reported.
#pragma once

#include <yaml-cpp/yaml.h>

#include <array>
#include <filesystem>
#include <string_view>

#include "common/config_diagnostics.hpp"
#include "common/config_types.hpp"
#include "common/config_yaml.hpp"

namespace sni::config {

// `base_dir` is the directory relative certificate/key/CA/OCSP paths are resolved against.
Config parse_config(Diagnostics &d, const YAML::Node &root, const std::filesystem::path &base_dir);

// One element of `routes` (config_parse_route.cpp).
Route parse_route(Diagnostics &d, const Field &f, const std::filesystem::path &base_dir);

// The backend keys that configure TLS towards the backend: only valid for mode reencrypt.
inline constexpr std::array<std::string_view, 10> kBackendTlsKeys{
    "sni",          "min_version", "max_version",        "security_level", "ciphers",
    "ciphersuites", "verify",      "client_certificate", "alpn",           "session_reuse"};

}  // namespace sni::config
