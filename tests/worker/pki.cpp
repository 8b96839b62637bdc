#include "tests/worker/pki.hpp"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>
#include <stdexcept>

#include "workers/spki_pin.hpp"

namespace sni::wtest {

namespace {

using Pkey = worker::EvpPkeyPtr;
using Cert = worker::X509Ptr;

Pkey new_key(KeyType type) {
    EVP_PKEY *k = type == KeyType::kRsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
    if (k == nullptr) throw std::runtime_error("key generation failed");
    return Pkey(k);
}

void add_ext(X509 *cert, X509 *issuer, int nid, const std::string &value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
    if (ext == nullptr) throw std::runtime_error("bad extension " + value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

void write_pem(const std::filesystem::path &cert_path, X509 *cert,
               const std::filesystem::path &key_path, EVP_PKEY *key) {
    FILE *f = std::fopen(cert_path.c_str(), "w");
    PEM_write_X509(f, cert);
    std::fclose(f);
    f = std::fopen(key_path.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
}

Pkey read_key(const std::filesystem::path &path) {
    FILE *f = std::fopen(path.c_str(), "r");
    if (f == nullptr) throw std::runtime_error("cannot read " + path.string());
    Pkey k(PEM_read_PrivateKey(f, nullptr, nullptr, nullptr));
    std::fclose(f);
    return k;
}

Cert new_cert(EVP_PKEY *key, const std::string &cn, long serial) {
    Cert cert(X509_new());
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), 30L * 24 * 3600);
    X509_set_pubkey(cert.get(), key);
    X509_NAME *name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char *>(cn.c_str()), -1, -1, 0);
    return cert;
}

}  // namespace

CertFiles Pki::make_ca(const std::string &stem, const std::string &cn) {
    Pkey key = new_key(KeyType::kEcdsa);
    Cert cert = new_cert(key.get(), cn, 1);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(cert.get()));
    add_ext(cert.get(), cert.get(), NID_basic_constraints, "critical,CA:TRUE");
    add_ext(cert.get(), cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
    add_ext(cert.get(), cert.get(), NID_subject_key_identifier, "hash");
    X509_sign(cert.get(), key.get(), EVP_sha256());
    CertFiles out{dir_ / (stem + ".crt"), dir_ / (stem + ".key")};
    write_pem(out.cert, cert.get(), out.key, key.get());
    return out;
}

CertFiles Pki::make_leaf(const std::string &stem, const std::vector<std::string> &names,
                         const CertFiles &ca, KeyType type) {
    Cert ca_cert = read_certificate(ca.cert);
    Pkey ca_key = read_key(ca.key);
    Pkey key = new_key(type);
    Cert cert = new_cert(key.get(), names.front(), ++serial_);
    X509_set_issuer_name(cert.get(), X509_get_subject_name(ca_cert.get()));
    std::string san;
    for (const auto &n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
    add_ext(cert.get(), ca_cert.get(), NID_subject_alt_name, san);
    add_ext(cert.get(), ca_cert.get(), NID_basic_constraints, "CA:FALSE");
    add_ext(cert.get(), ca_cert.get(), NID_ext_key_usage, "serverAuth,clientAuth");
    X509_sign(cert.get(), ca_key.get(), EVP_sha256());
    CertFiles out{dir_ / (stem + ".crt"), dir_ / (stem + ".key")};
    write_pem(out.cert, cert.get(), out.key, key.get());
    return out;
}

std::string subject_cn(void *x509) {
    char buf[256] = {};
    X509_NAME *name = X509_get_subject_name(static_cast<X509 *>(x509));
    if (X509_NAME_get_text_by_NID(name, NID_commonName, buf, sizeof buf) < 0) return "";
    return buf;
}

worker::X509Ptr read_certificate(const std::filesystem::path &path, OSSL_LIB_CTX *libctx) {
    FILE *f = std::fopen(path.c_str(), "r");
    if (f == nullptr) throw std::runtime_error("cannot read " + path.string());
    // Made in `libctx` so that its key is decoded there. PEM_read_X509 frees it and clears `x`
    // when the decode fails, and leaves it alone when the file holds no certificate.
    X509 *x = X509_new_ex(libctx, nullptr);
    const bool ok = x != nullptr && PEM_read_X509(f, &x, nullptr, nullptr) != nullptr;
    std::fclose(f);
    if (!ok) {
        X509_free(x);
        throw std::runtime_error("no certificate in " + path.string());
    }
    return worker::X509Ptr(x);
}

std::string spki_pin_of(const std::filesystem::path &cert_file) {
    Cert c = read_certificate(cert_file);
    return worker::spki_sha256_hex(c.get());
}

}  // namespace sni::wtest
