#include "workers/tls_params.hpp"

#include <openssl/pem.h>

#include "workers/ossl.hpp"

namespace sni::worker {

int openssl_version(config::TlsVersion version) {
    switch (version) {
        case config::TlsVersion::kTls1_0:
            return TLS1_VERSION;
        case config::TlsVersion::kTls1_1:
            return TLS1_1_VERSION;
        case config::TlsVersion::kTls1_2:
            return TLS1_2_VERSION;
        case config::TlsVersion::kTls1_3:
            return TLS1_3_VERSION;
    }
    return TLS1_2_VERSION;
}

std::string cipher_string(const std::string &ciphers, std::optional<int> level) {
    if (ciphers.empty() && !level) return "";
    std::string out = ciphers.empty() ? "DEFAULT" : ciphers;
    if (level) out += ":@SECLEVEL=" + std::to_string(*level);
    return out;
}

std::vector<std::uint8_t> alpn_wire(const std::vector<std::string> &protocols) {
    std::vector<std::uint8_t> out;
    for (const auto &p : protocols) {
        if (p.empty() || p.size() > 255) continue;
        out.push_back(static_cast<std::uint8_t>(p.size()));
        out.insert(out.end(), p.begin(), p.end());
    }
    return out;
}

std::vector<std::string> alpn_protocols_of(const std::uint8_t *wire, std::size_t len) {
    std::vector<std::string> out;
    std::size_t i = 0;
    while (i < len) {
        const std::size_t n = wire[i];
        if (n == 0 || i + 1 + n > len) break;
        out.emplace_back(reinterpret_cast<const char *>(wire + i + 1), n);
        i += 1 + n;
    }
    return out;
}

std::string apply_versions_and_ciphers(SSL_CTX *ctx, config::TlsVersion min, config::TlsVersion max,
                                       std::optional<int> level, const std::string &ciphers,
                                       const std::string &ciphersuites) {
    if (SSL_CTX_set_min_proto_version(ctx, openssl_version(min)) != 1 ||
        SSL_CTX_set_max_proto_version(ctx, openssl_version(max)) != 1)
        return "cannot set the TLS version range: " + take_openssl_errors();
    const std::string list = cipher_string(ciphers, level);
    if (!list.empty() && SSL_CTX_set_cipher_list(ctx, list.c_str()) != 1)
        return "bad ciphers \"" + list + "\": " + take_openssl_errors();
    if (level) SSL_CTX_set_security_level(ctx, *level);
    const char *suites = ciphersuites.empty() ? kDefaultCiphersuites : ciphersuites.c_str();
    if (SSL_CTX_set_ciphersuites(ctx, suites) != 1)
        return "bad ciphersuites \"" + std::string(suites) + "\": " + take_openssl_errors();
    return "";
}

std::string load_certificate(SSL_CTX *ctx, const std::string &cert_file,
                             const std::string &key_file) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1)
        return cert_file + ": " + take_openssl_errors();
    // Read in the default library context: a backend context's own (CertDecodeCtx) decodes
    // only public keys. The key works there all the same (OpenSSL moves it across providers).
    std::unique_ptr<BIO, decltype(&BIO_free)> in(BIO_new_file(key_file.c_str(), "r"), &BIO_free);
    if (!in) return key_file + ": " + take_openssl_errors();
    EvpPkeyPtr key(
        PEM_read_bio_PrivateKey_ex(in.get(), nullptr, nullptr, nullptr, nullptr, nullptr));
    if (!key || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1)
        return key_file + ": " + take_openssl_errors();
    if (SSL_CTX_check_private_key(ctx) != 1)
        return key_file + ": the key does not match " + cert_file + ": " + take_openssl_errors();
    return "";
}

}  // namespace sni::worker
