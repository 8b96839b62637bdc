#include "workers/spki_pin.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace sni::worker {

std::string spki_sha256_hex(X509 *cert) {
    X509_PUBKEY *key = X509_get_X509_PUBKEY(cert);
    if (key == nullptr) return "";
    const int len = i2d_X509_PUBKEY(key, nullptr);
    if (len <= 0) return "";
    std::vector<unsigned char> der(static_cast<std::size_t>(len));
    unsigned char *p = der.data();
    if (i2d_X509_PUBKEY(key, &p) != len) return "";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (EVP_Digest(der.data(), der.size(), md, &md_len, EVP_sha256(), nullptr) != 1) return "";
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < md_len; ++i) {
        out += kHex[md[i] >> 4];
        out += kHex[md[i] & 0xf];
    }
    return out;
}

std::string normalize_pin(std::string_view pin) {
    std::string out;
    for (const char c : pin)
        if (c != ':') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool pin_matches(X509 *cert, const std::vector<std::string> &normalized_pins) {
    const std::string have = spki_sha256_hex(cert);
    return !have.empty() &&
           std::find(normalized_pins.begin(), normalized_pins.end(), have) != normalized_pins.end();
}

}  // namespace sni::worker
