// Checks on a parsed Config that need more than one value at a time, or the outside world.
// Each reports through the Diagnostics (locating errors by key path) and skips values whose
// parsing already failed, so that one mistake gives one error.
#pragma once

#include "common/config_diagnostics.hpp"
#include "common/config_types.hpp"

namespace sni::config {

// Names (unique listeners/routes/pools), references (route -> listener/pool, default_route),
// server-name duplicates per listener, bind duplicates, mode vs tls/backend-TLS keys, TLS
// version ranges and security levels, health-check timings.
void validate_config(const Config &config, Diagnostics &d);

// Certificate, key, OCSP and CA files exist and are readable (contents are not parsed).
void check_files(const Config &config, Diagnostics &d);

// Cipher lists and TLS 1.3 cipher suites are understood by the linked OpenSSL.
void check_cipher_strings(const Config &config, Diagnostics &d);

}  // namespace sni::config
