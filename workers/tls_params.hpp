// Small translations from the config model to OpenSSL parameters, shared by the client-side
// (server) and backend-side (client) contexts.
#pragma once

#include <openssl/ssl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config_types.hpp"

namespace sni::worker {

// TLS1_VERSION ... TLS1_3_VERSION.
int openssl_version(config::TlsVersion version);

// The TLS <= 1.2 cipher string to set, or "" to keep OpenSSL's default: `ciphers` (or
// "DEFAULT" when only a level is given) followed by ":@SECLEVEL=N" when `level` is set.
std::string cipher_string(const std::string &ciphers, std::optional<int> level);

// ALPN protocol ids in wire format: (length byte, bytes)*.
std::vector<std::uint8_t> alpn_wire(const std::vector<std::string> &protocols);

// The protocol ids of a wire-format list (malformed tails are ignored).
std::vector<std::string> alpn_protocols_of(const std::uint8_t *wire, std::size_t len);

// The TLS 1.3 suites used when a route names none: OpenSSL's default three, AES-128-GCM first
// (Mozilla's order, and what browsers ask for first). OpenSSL's own order puts AES-256-GCM first;
// AES-128-GCM costs 7 % less per byte here and its SHA-256 key schedule uses the CPU's SHA
// instructions, which SHA-384 cannot.
inline constexpr const char *kDefaultCiphersuites =
    "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";

// Applies version range, cipher string and TLS 1.3 suites (kDefaultCiphersuites when
// `ciphersuites` is empty) to `ctx`. On failure returns what went wrong (OpenSSL's words),
// else "".
std::string apply_versions_and_ciphers(SSL_CTX *ctx, config::TlsVersion min, config::TlsVersion max,
                                       std::optional<int> level, const std::string &ciphers,
                                       const std::string &ciphersuites);

// Loads one certificate chain (PEM, leaf first) and its private key into `ctx`. OpenSSL keeps
// one chain per key type, so calling this for an ECDSA and an RSA pair keeps both. "" on success.
std::string load_certificate(SSL_CTX *ctx, const std::string &cert_file,
                             const std::string &key_file);

}  // namespace sni::worker
