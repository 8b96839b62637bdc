// Test certificates made with the OpenSSL API: CAs and leaves (ECDSA P-256 or RSA 2048) with
// subject CN and DNS SANs, written as PEM files.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "workers/ossl.hpp"

namespace sni::wtest {

enum class KeyType { kEcdsa, kRsa };

struct CertFiles {
    std::filesystem::path cert;  // PEM chain: leaf (then nothing: tests trust the CA directly)
    std::filesystem::path key;
};

class Pki {
  public:
    explicit Pki(std::filesystem::path dir) : dir_(std::move(dir)) {}

    // A self-signed CA "<cn>", files <stem>.crt/.key.
    CertFiles make_ca(const std::string &stem, const std::string &cn);
    // A leaf for `names` (the first is the CN) signed by the CA `ca`.
    CertFiles make_leaf(const std::string &stem, const std::vector<std::string> &names,
                        const CertFiles &ca, KeyType type = KeyType::kEcdsa);

    const std::filesystem::path &dir() const { return dir_; }

  private:
    std::filesystem::path dir_;
    long serial_ = 100;
};

// The subject CN of a certificate ("" if none).
std::string subject_cn(void *x509);
// The first certificate of a PEM file, made in `libctx` (nullptr = the default context), so its
// public key is decoded there. Throws when the file cannot be read or holds no certificate.
worker::X509Ptr read_certificate(const std::filesystem::path &file, OSSL_LIB_CTX *libctx = nullptr);
// Lowercase hex SHA-256 of the certificate file's SubjectPublicKeyInfo.
std::string spki_pin_of(const std::filesystem::path &cert_file);

}  // namespace sni::wtest
