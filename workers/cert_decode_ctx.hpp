// A library context for the backend legs that decodes peer certificates cheaply on OpenSSL 3.0.
//
// OpenSSL 3.0 decodes the public key of every certificate it parses (d2i_X509) through
// OSSL_DECODER_CTX_new_for_pkey, which walks every decoder and key manager of the library
// context each time: 1.2 M instructions per certificate, a quarter of a backend handshake
// (docs/performance.md, "Backend certificates: decoding on OpenSSL 3.0"). OpenSSL 3.1 caches
// decoder contexts instead. Here the backend SSL_CTXs use a library context whose one provider
// offers the default provider's own algorithms, unchanged, except that its decoders are only
// those that turn a DER SubjectPublicKeyInfo into a key: the walk is shorter, the keys and
// the crypto are the default provider's.
//
// It is used only where it changes nothing else: OpenSSL 3.0.x, and no provider but `default`
// (or `base`) active in the default library context. A FIPS, legacy or third-party provider
// configured in openssl.cnf makes `create` say why not, and the backend legs use the default
// library context as before.
#pragma once

#include <openssl/crypto.h>
#include <openssl/provider.h>

#include <memory>
#include <string>
#include <vector>

#include "common/config_result.hpp"

namespace sni::worker {

class CertDecodeCtx {
  public:
    // Why the filtered context does not apply, "" when it does. `version` is
    // OpenSSL_version_num(); `active` names the providers active in the default context.
    static std::string not_applicable(unsigned long version,
                                      const std::vector<std::string> &active);

    // The context, or the reason it is not used (not an error: the caller keeps the default).
    static config::Result<CertDecodeCtx, std::string> create();

    OSSL_LIB_CTX *get() const { return ctx_.get(); }

  private:
    struct LibCtxFree {
        void operator()(OSSL_LIB_CTX *p) const { OSSL_LIB_CTX_free(p); }
    };
    struct ProviderUnload {
        void operator()(OSSL_PROVIDER *p) const { OSSL_PROVIDER_unload(p); }
    };
    // Declared so that the wrapper unloads before its context is freed, and the default
    // provider's reference is dropped last.
    std::unique_ptr<OSSL_PROVIDER, ProviderUnload> real_;
    std::unique_ptr<OSSL_LIB_CTX, LibCtxFree> ctx_;
    std::unique_ptr<OSSL_PROVIDER, ProviderUnload> wrapper_;
};

}  // namespace sni::worker
