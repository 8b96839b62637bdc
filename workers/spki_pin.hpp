// SHA-256 pins of a certificate's SubjectPublicKeyInfo (as `verify.pin_sha256` holds them).
#pragma once

#include <openssl/x509.h>

#include <string>
#include <string_view>
#include <vector>

namespace sni::worker {

// Lowercase hex SHA-256 of the DER SubjectPublicKeyInfo; "" on failure.
std::string spki_sha256_hex(X509 *cert);

// Lowercase, without ':' separators.
std::string normalize_pin(std::string_view pin);

bool pin_matches(X509 *cert, const std::vector<std::string> &normalized_pins);

}  // namespace sni::worker
